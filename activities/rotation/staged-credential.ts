import { ApplicationFailure } from '@temporalio/common';
import type { KvVersionMetadata } from '../../vault/vault-client.js';
import { VaultRequestError } from '../../vault/vault-error.js';
import { FailureType } from '../../workflows/failure-types.js';
import type { RotationRef } from '../../workflows/rotation-types.js';
import type { ActivityContext } from '../activity-context.js';
import { audited } from '../audit/audited.js';
import type { Credential, Provider } from '../providers/provider.js';
import { sameCredential } from './same-credential.js';
import { pendingPath, readKvVersion, withSecret, type SecretHandle } from './secret-handle.js';

/** The cas=0 write of a minted credential lost to an earlier attempt: that attempt's credential stands. */
class StagedEarlier extends Error {}

const isCasMismatch = (err: unknown) => err instanceof VaultRequestError && err.isCasMismatch;

/**
 * Invariant vault-learns-first: a new credential of `secret`'s provider, written to `path` with cas=0 before the
 * target accepts it (generated: `apply` comes later) or the moment the target made it (minted: the
 * provider hands it to the write before anything else sees it). Undefined when an earlier attempt
 * wrote `path` first: its credential stands, and a credential minted meanwhile is revoked.
 */
export async function stageNewCredential<C extends Credential>(
  ctx: ActivityContext,
  secret: SecretHandle<C>,
  path: string,
  current: C | undefined,
): Promise<{ credential: C; written: KvVersionMetadata } | undefined> {
  const mount = ctx.env.ROTOR_VAULT_KV_MOUNT;
  const write = async (credential: C) => {
    const written = await secret.vault.run((v) => v.kvWrite(mount, path, { ...credential }, 0));
    ctx.kvCache.setWritten(mount, path, credential, written);
    return { credential, written };
  };
  const source = secret.provider.source;
  if (source.kind === 'generate') {
    try {
      return await write(await source.generate(current));
    } catch (err) {
      if (isCasMismatch(err)) return undefined;
      throw err;
    }
  }
  let staged: { credential: C; written: KvVersionMetadata } | undefined;
  try {
    await source.mint(current, async (credential) => {
      try {
        staged = await write(credential);
      } catch (err) {
        // A write whose answer was lost may have landed: then this credential is staged, not unknown.
        if (!isCasMismatch(err)) {
          const landed = await landedWrite(ctx, secret, path, credential);
          if (landed) {
            ctx.kvCache.setWritten(mount, path, credential, landed.written);
            staged = landed;
            return;
          }
        }
        // Known only to the target: end it rather than leave a credential nobody holds.
        await revokeUnstaged(ctx, secret.provider, credential, secret.spec.id);
        throw isCasMismatch(err) ? new StagedEarlier() : err;
      }
    });
  } catch (err) {
    if (err instanceof StagedEarlier) return undefined;
    throw err;
  }
  if (!staged) {
    throw ApplicationFailure.nonRetryable(
      `the ${secret.spec.provider.type} provider of "${secret.spec.id}" finished minting without staging a credential`,
      FailureType.MintNotStaged,
    );
  }
  return staged;
}

/** The staged write of `credential` at `path`, when Vault holds exactly it there; undefined when not, or when Vault cannot say. */
async function landedWrite<C extends Credential>(
  ctx: ActivityContext,
  secret: SecretHandle<C>,
  path: string,
  credential: C,
): Promise<{ credential: C; written: KvVersionMetadata } | undefined> {
  try {
    const read = await secret.vault.run((v) => v.kvRead<C>(ctx.env.ROTOR_VAULT_KV_MOUNT, path));
    return read && sameCredential(read.data, credential) ? { credential, written: read.metadata } : undefined;
  } catch {
    return undefined;
  }
}

async function revokeUnstaged<C extends Credential>(ctx: ActivityContext, provider: Provider<C>, credential: C, secretId: string) {
  try {
    await provider.revoke(credential, { terminateSessions: true });
  } catch (err) {
    ctx.logger.warn(
      { secretId, err: err instanceof Error ? err.name : 'unknown' },
      'a minted credential could not be staged in Vault nor revoked at the target',
    );
  }
}

/** Staging, applying, testing and discarding the new credential of one rotation. */
export function stagedCredentialActivities(ctx: ActivityContext) {
  const mount = ctx.env.ROTOR_VAULT_KV_MOUNT;

  return {
    /**
     * Invariant vault-learns-first: the new credential is written to Vault (a pending path tied to this rotation)
     * before the target learns it, or - for a credential the target mints - before anything else
     * learns it. A retried step finds and reuses it (a minting target is not asked again); a new
     * rotation has a new path.
     */
    async stageCredential(ref: RotationRef & { fromVersion?: number }): Promise<{ pendingPath: string }> {
      const path = pendingPath(ref.secretId, ref.rotationId);
      return audited(ctx, { step: 'stage', secretId: ref.secretId, actor: ref.actor }, () =>
        withSecret(ctx, ref.secretId, async (secret) => {
          // Generating is free, so a generated credential relies on cas=0 alone; minting is not.
          if (secret.provider.source.kind === 'mint' && (await secret.readStaged(ref.rotationId))) return { pendingPath: path };
          await stageNewCredential(ctx, secret, path, (await secret.read(ref.fromVersion)).data);
          return { pendingPath: path };
        }),
      );
    },

    /** Makes the target accept the staged credential; nothing to do for one the target minted. */
    async applyStaged(ref: RotationRef): Promise<void> {
      await audited(ctx, { step: 'apply', secretId: ref.secretId, actor: ref.actor }, () =>
        withSecret(ctx, ref.secretId, async (secret) => applyCredential(secret.provider, await requireStaged(ctx, secret, ref))),
      );
    },

    async testStaged(ref: RotationRef): Promise<void> {
      await audited(ctx, { step: 'test', secretId: ref.secretId, actor: ref.actor }, () =>
        withSecret(ctx, ref.secretId, async (secret) => secret.provider.test(await requireStaged(ctx, secret, ref))),
      );
    },

    /**
     * Removes the staged credential. With `revoke`, it is first made invalid at the target and
     * checked to be refused there (invariant revocation-verified) - unless it is the current credential.
     */
    async discardStaged(ref: RotationRef & { revoke: boolean }): Promise<{ revoked: boolean }> {
      return audited(
        ctx,
        { step: ref.revoke ? 'discard_and_revoke_staged' : 'cleanup_staged', secretId: ref.secretId, actor: ref.actor },
        () =>
          withSecret(ctx, ref.secretId, async (secret) => {
            const staged = await secret.readStaged(ref.rotationId);
            if (!staged) return { revoked: false };
            let revoked = false;
            if (ref.revoke && !(await isCurrentPrincipal(secret, staged))) {
              await secret.provider.revoke(staged, { terminateSessions: true });
              if (!(await secret.provider.isRevoked(staged))) {
                throw ApplicationFailure.retryable(
                  'the staged credential still authenticates after revocation',
                  FailureType.RevocationNotVerified,
                );
              }
              revoked = true;
            }
            await secret.vault.run((v) => v.kvDeleteAll(mount, pendingPath(ref.secretId, ref.rotationId)));
            ctx.kvCache.forget(mount, pendingPath(ref.secretId, ref.rotationId));
            return { revoked };
          }),
        (r) => ({ detail: { revoked: r.revoked } }),
      );
    },
  };
}

/** Makes the target accept a generated credential (idempotent); a minted one it accepts already. */
export async function applyCredential<C extends Credential>(provider: Provider<C>, credential: C): Promise<void> {
  if (provider.source.kind === 'generate') await provider.source.apply(credential);
}

/** True when `credential` is (a credential of) the principal consumers currently use. */
export async function isCurrentPrincipal<C extends Credential>(secret: SecretHandle<C>, credential: C): Promise<boolean> {
  const current = await secret.read();
  return sameCredential(current.data, credential) || secret.provider.principal(current.data) === secret.provider.principal(credential);
}

export const stagedMissing = (ctx: ActivityContext, ref: RotationRef) =>
  ApplicationFailure.nonRetryable(
    `no staged credential at ${ctx.env.ROTOR_VAULT_KV_MOUNT}/${pendingPath(ref.secretId, ref.rotationId)}`,
    FailureType.StagedMissing,
  );

async function requireStaged<C extends Credential>(ctx: ActivityContext, secret: SecretHandle<C>, ref: RotationRef): Promise<C> {
  const staged = await secret.readStaged(ref.rotationId);
  if (!staged) throw stagedMissing(ctx, ref);
  return staged;
}

/**
 * The staged credential of one rotation as stored (it lives at its pending path, always version
 * 1), for steps that copy or compare it without handing it to the provider.
 */
export async function readStagedCredential(ctx: ActivityContext, ref: RotationRef): Promise<Credential | undefined> {
  return (await readKvVersion(ctx, ref.secretId, pendingPath(ref.secretId, ref.rotationId), 1))?.data;
}

import { ApplicationFailure } from '@temporalio/common';
import type { RotationRef } from '../../workflows/rotation-types.js';
import type { ActivityContext } from '../activity-context.js';
import { audited } from '../audit/audited.js';
import type { Credential } from '../providers/provider.js';
import { VaultRequestError } from '../../vault/vault-error.js';
import { pendingPath, readKvVersion, withSecret, type SecretHandle } from './secret-handle.js';
import { sameCredential } from './same-credential.js';

/** Staging, applying, testing and discarding the new credential of one rotation. */
export function stagedCredentialActivities(ctx: ActivityContext) {
  const mount = ctx.env.ROTOR_VAULT_KV_MOUNT;

  const readStaged = (ref: RotationRef) => readStagedCredential(ctx, ref);
  const requireStaged = (ref: RotationRef) => requireStagedCredential(ctx, ref);

  return {
    /**
     * Invariant 6: the new credential is written to Vault (a pending path tied to this rotation)
     * before the target learns it. A retried step finds and reuses it; a new rotation has a new path.
     */
    async stageCredential(ref: RotationRef & { fromVersion?: number }): Promise<{ pendingPath: string }> {
      const path = pendingPath(ref.secretId, ref.rotationId);
      return audited(ctx, { step: 'stage', secretId: ref.secretId, actor: ref.actor }, () =>
        withSecret(ctx, ref.secretId, async (secret) => {
          const next = await secret.provider.generate((await secret.read(ref.fromVersion)).data);
          try {
            const written = await ctx.vault.run((v) => v.kvWrite(mount, path, { ...next }, 0));
            ctx.kvCache.setWritten(mount, path, next, written);
          } catch (err) {
            // cas=0 lost to an earlier attempt of this rotation: that attempt's credential stands.
            if (!(err instanceof VaultRequestError && err.isCasMismatch)) throw err;
          }
          return { pendingPath: path };
        }),
      );
    },

    async applyStaged(ref: RotationRef): Promise<void> {
      await audited(ctx, { step: 'apply', secretId: ref.secretId, actor: ref.actor }, () =>
        withSecret(ctx, ref.secretId, async (secret) => secret.provider.apply(await requireStaged(ref))),
      );
    },

    async testStaged(ref: RotationRef): Promise<void> {
      await audited(ctx, { step: 'test', secretId: ref.secretId, actor: ref.actor }, () =>
        withSecret(ctx, ref.secretId, async (secret) => secret.provider.test(await requireStaged(ref))),
      );
    },

    /**
     * Removes the staged credential. With `revoke`, it is first made invalid at the target and
     * checked to be refused there (invariant 7) - unless it is the current credential.
     */
    async discardStaged(ref: RotationRef & { revoke: boolean }): Promise<{ revoked: boolean }> {
      return audited(
        ctx,
        { step: ref.revoke ? 'discard_and_revoke_staged' : 'cleanup_staged', secretId: ref.secretId, actor: ref.actor },
        () =>
          withSecret(ctx, ref.secretId, async (secret) => {
            const staged = await readStaged(ref);
            if (!staged) return { revoked: false };
            let revoked = false;
            if (ref.revoke && !(await isCurrentPrincipal(secret, staged))) {
              await secret.provider.revoke(staged, { terminateSessions: true });
              if (!(await secret.provider.isRevoked(staged))) {
                throw ApplicationFailure.retryable('the staged credential still authenticates after revocation', 'RevocationNotVerified');
              }
              revoked = true;
            }
            await ctx.vault.run((v) => v.kvDeleteAll(mount, pendingPath(ref.secretId, ref.rotationId)));
            ctx.kvCache.forget(mount, pendingPath(ref.secretId, ref.rotationId));
            return { revoked };
          }),
        (r) => ({ detail: { revoked: r.revoked } }),
      );
    },
  };
}

/** True when `credential` is (a credential of) the principal consumers currently use. */
export async function isCurrentPrincipal(secret: SecretHandle, credential: Credential): Promise<boolean> {
  const current = await secret.read();
  return sameCredential(current.data, credential) || secret.provider.principal(current.data) === secret.provider.principal(credential);
}

/** The staged credential of one rotation, if it was written (it lives at its pending path, always version 1). */
export async function readStagedCredential(ctx: ActivityContext, ref: RotationRef): Promise<Credential | undefined> {
  return (await readKvVersion(ctx, pendingPath(ref.secretId, ref.rotationId), 1))?.data;
}

export async function requireStagedCredential(ctx: ActivityContext, ref: RotationRef): Promise<Credential> {
  const staged = await readStagedCredential(ctx, ref);
  if (!staged) {
    throw ApplicationFailure.nonRetryable(
      `no staged credential at ${ctx.env.ROTOR_VAULT_KV_MOUNT}/${pendingPath(ref.secretId, ref.rotationId)}`,
      'StagedMissing',
    );
  }
  return staged;
}

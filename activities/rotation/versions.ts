import { ApplicationFailure } from '@temporalio/common';
import type { RotationRef } from '../../workflows/rotation-types.js';
import type { ActivityContext } from '../activity-context.js';
import { audited } from '../audit/audited.js';
import { unhealthyConsumers } from './consumer-health.js';
import { VaultRequestError } from '../../vault/vault-error.js';
import { withSecret, type SecretHandle } from './secret-handle.js';
import { sameCredential } from './same-credential.js';
import { isCurrentPrincipal, readStagedCredential, stagedMissing } from './staged-credential.js';
import { FailureType } from '../../workflows/failure-types.js';
import { promotionStamp } from './secret-metadata.js';
import { failpoint } from '../failpoint.js';

/** Promotion, rollback, post-validation and revocation: everything that moves or ends a KV version. */
export function versionActivities(ctx: ActivityContext) {
  const mount = ctx.env.ROTOR_VAULT_KV_MOUNT;

  async function stampMetadata(secret: SecretHandle, fields: Record<string, string>): Promise<void> {
    await secret.vault.run((v) => v.kvWriteMetadata(mount, secret.spec.path, { custom_metadata: fields }));
  }

  return {
    /**
     * Writes the staged credential as the new current version with check-and-set against the
     * version read at pre-check: a concurrent writer makes this fail, never get overwritten. A
     * repeat recognises its own earlier promotion, even after the rotation removed its staged copy.
     */
    async promote(ref: RotationRef & { expectedVersion: number }): Promise<{ promotedVersion: number }> {
      return audited(
        ctx,
        { step: 'promote', secretId: ref.secretId, actor: ref.actor, fromVersion: ref.expectedVersion },
        () =>
          withSecret(ctx, ref.secretId, async (secret) => {
            const staged = await readStagedCredential(ctx, ref);
            if (!staged) {
              const { version, promotion } = await secret.current();
              const ours = promotion?.rotationId === ref.rotationId && promotion.previousVersion === ref.expectedVersion;
              if (ours) return { promotedVersion: version };
              throw stagedMissing(ctx, ref);
            }
            let promotedVersion: number;
            try {
              const written = await secret.vault.run((v) => v.kvWrite(mount, secret.spec.path, { ...staged }, ref.expectedVersion));
              promotedVersion = written.version;
              ctx.kvCache.setWritten(mount, secret.spec.path, staged, written);
            } catch (err) {
              if (!(err instanceof VaultRequestError && err.isCasMismatch)) throw err;
              const current = await secret.currentVersion();
              if (current !== ref.expectedVersion + 1 || !sameCredential((await secret.read(current)).data, staged)) {
                throw ApplicationFailure.nonRetryable(
                  `check-and-set failed: expected version ${ref.expectedVersion} to be current, found ${current}; a concurrent writer changed ${mount}/${secret.spec.path}`,
                  FailureType.CasConflict,
                );
              }
              promotedVersion = current; // our own write, from an attempt that died before reporting
            }
            await failpoint('promote.written');
            await stampMetadata(
              secret,
              promotionStamp({ rotationId: ref.rotationId, previousVersion: ref.expectedVersion, promotedVersion }),
            );
            return { promotedVersion };
          }),
        (r) => ({ toVersion: r.promotedVersion }),
      );
    },

    /**
     * Re-promotes the exact previous version (invariant rollback-to-a-version, docs/invariants.md):
     * read N, refuse a deleted or destroyed one, write it as a new version with cas = the version
     * we promoted, then prove it logs in.
     */
    async rollbackToVersion(ref: RotationRef & { previousVersion: number; promotedVersion: number }): Promise<{ restoredVersion: number }> {
      return audited(
        ctx,
        { step: 'rollback', secretId: ref.secretId, actor: ref.actor, fromVersion: ref.promotedVersion },
        () =>
          withSecret(ctx, ref.secretId, async (secret) => {
            const previous = await secret.read(ref.previousVersion, { fresh: true });
            const current = await secret.currentVersion();
            let restoredVersion: number;
            if (current === ref.promotedVersion) {
              restoredVersion = (
                await secret.vault.run((v) => v.kvWrite(mount, secret.spec.path, { ...previous.data }, ref.promotedVersion))
              ).version;
            } else {
              // Our own write from an attempt that died before stamping it holds the previous
              // credential as the version right after ours; anything else is a concurrent writer.
              const ours =
                (current === ref.promotedVersion + 1 ||
                  (await secret.vault.run((v) => v.kvMetadata(mount, secret.spec.path)))?.custom_metadata?.rotor_rolled_back_by ===
                    ref.rotationId) &&
                sameCredential((await secret.read(current, { fresh: true })).data, previous.data);
              if (!ours) {
                throw ApplicationFailure.nonRetryable(
                  `rollback refused: expected version ${ref.promotedVersion} to be current, found ${current}; a concurrent writer changed ${mount}/${secret.spec.path} and is not overwritten`,
                  FailureType.RollbackConflict,
                );
              }
              restoredVersion = current;
            }
            await failpoint('rollback.written');
            await stampMetadata(secret, {
              rotor_rotation_id: ref.rotationId,
              rotor_rolled_back_by: ref.rotationId,
              rotor_restored_from_version: String(ref.previousVersion),
              rotor_restored_version: String(restoredVersion),
            });
            await secret.provider.test(previous.data);
            return { restoredVersion };
          }),
        (r) => ({ toVersion: r.restoredVersion, detail: { restoredFrom: ref.previousVersion } }),
      );
    },

    /**
     * After a promotion that did not report success: did its KV write happen anyway (the stamp or
     * audit row failed on every attempt, or the worker died right after the write)? The version
     * right after `expectedVersion` holding exactly the staged credential is that write.
     */
    async findPromotion(ref: RotationRef & { expectedVersion: number }): Promise<{ promotedVersion: number | null }> {
      return audited(
        ctx,
        { step: 'find_promotion', secretId: ref.secretId, actor: ref.actor, fromVersion: ref.expectedVersion },
        () =>
          withSecret(ctx, ref.secretId, async (secret) => {
            const { version: current, promotion } = await secret.current();
            if (promotion?.rotationId === ref.rotationId && promotion.previousVersion === ref.expectedVersion)
              return { promotedVersion: current };
            if (current !== ref.expectedVersion + 1) return { promotedVersion: null };
            const staged = await readStagedCredential(ctx, ref);
            const ours = staged !== undefined && sameCredential((await secret.read(current, { fresh: true })).data, staged);
            return { promotedVersion: ours ? current : null };
          }),
        (r) => ({
          ...(r.promotedVersion === null ? {} : { toVersion: r.promotedVersion }),
          detail: { promoted: r.promotedVersion !== null },
        }),
      );
    },

    /** After cutover: the promoted version is still current, authenticates, and consumers are healthy. */
    async postValidate(ref: RotationRef & { version: number }): Promise<void> {
      await audited(ctx, { step: 'post_validate', secretId: ref.secretId, actor: ref.actor, toVersion: ref.version }, () =>
        withSecret(ctx, ref.secretId, async (secret) => {
          const current = await secret.currentVersion();
          if (current !== ref.version) {
            throw ApplicationFailure.nonRetryable(
              `version ${current} is current, not the promoted ${ref.version}: a concurrent writer`,
              FailureType.VersionChanged,
            );
          }
          await secret.provider.test((await secret.read(current)).data);
          const unhealthy = await unhealthyConsumers(secret.spec.consumers);
          if (unhealthy.length)
            throw ApplicationFailure.retryable(`consumers unhealthy after cutover: ${unhealthy.join('; ')}`, FailureType.ConsumerUnhealthy);
        }),
      );
    },

    /**
     * Revokes the credential of `version` at the target and proves it is refused (invariant
     * revocation-verified, docs/invariants.md).
     * Refuses to touch the principal consumers currently use.
     */
    async revokeVersion(ref: RotationRef & { version: number; terminateSessions: boolean }): Promise<void> {
      await audited(ctx, { step: 'revoke', secretId: ref.secretId, actor: ref.actor, fromVersion: ref.version }, () =>
        withSecret(ctx, ref.secretId, async (secret) => {
          const old = await secret.read(ref.version);
          if (await isCurrentPrincipal(secret, old.data)) {
            throw ApplicationFailure.nonRetryable(
              `version ${ref.version} belongs to the principal consumers use now; not revoked`,
              FailureType.WouldRevokeCurrent,
            );
          }
          await secret.provider.revoke(old.data, { terminateSessions: ref.terminateSessions });
          if (!(await secret.provider.isRevoked(old.data))) {
            throw ApplicationFailure.retryable(
              `version ${ref.version} still authenticates after revocation`,
              FailureType.RevocationNotVerified,
            );
          }
        }),
      );
    },
  };
}

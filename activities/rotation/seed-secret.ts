import type { RotationRef } from '../../workflows/rotation-types.js';
import type { ActivityContext } from '../activity-context.js';
import { audited } from '../audit/audited.js';
import { withSecret } from './secret-handle.js';
import { applyCredential, stageNewCredential } from './staged-credential.js';

export function seedSecretActivities(ctx: ActivityContext) {
  const mount = ctx.env.ROTOR_VAULT_KV_MOUNT;
  return {
    /**
     * Gives a secret its first version: written to Vault with cas=0 (only if absent) before the
     * target learns it. A secret that already has a version is left alone.
     */
    async seedSecret(ref: Omit<RotationRef, 'rotationId'>): Promise<{ version: number; created: boolean }> {
      return audited(
        ctx,
        { step: 'seed', secretId: ref.secretId, actor: ref.actor },
        () =>
          withSecret(ctx, ref.secretId, async (secret) => {
            const meta = await secret.vault.run((v) => v.kvMetadata(mount, secret.spec.path));
            if (meta && meta.current_version > 0) {
              // Fresh: a path deleted and seeded again starts over at version 1, which a cache may still hold.
              const current = await secret.read(meta.current_version, { fresh: true });
              await applyCredential(secret.provider, current.data); // idempotent: a seed that died before apply finishes here
              return { version: meta.current_version, created: false };
            }
            // Versions of an earlier incarnation of this path may still be cached (see above).
            ctx.kvCache.forget(mount, secret.spec.path);
            const first = await stageNewCredential(ctx, secret, secret.spec.path, undefined);
            if (!first) return { version: await secret.currentVersion(), created: false };
            await applyCredential(secret.provider, first.credential);
            await secret.provider.test(first.credential);
            return { version: first.written.version, created: true };
          }),
        (r) => ({ toVersion: r.version, detail: { created: r.created } }),
      );
    },
  };
}

import type { RotationRef } from '../../workflows/rotation-types.js';
import type { ActivityContext } from '../activity-context.js';
import { audited } from '../audit/audited.js';
import { VaultRequestError } from '../../vault/vault-error.js';
import { withSecret } from './secret-handle.js';

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
            const meta = await ctx.vault.run((v) => v.kvMetadata(mount, secret.spec.path));
            if (meta && meta.current_version > 0) {
              // Fresh: a path deleted and seeded again starts over at version 1, which a cache may still hold.
              const current = await secret.read(meta.current_version, { fresh: true });
              await secret.provider.apply(current.data); // idempotent: a seed that died before apply finishes here
              return { version: meta.current_version, created: false };
            }
            const first = await secret.provider.generate(undefined);
            let version: number;
            try {
              version = (await ctx.vault.run((v) => v.kvWrite(mount, secret.spec.path, { ...first }, 0))).version;
            } catch (err) {
              if (err instanceof VaultRequestError && err.isCasMismatch) return { version: await secret.currentVersion(), created: false };
              throw err;
            }
            ctx.kvCache.forget(mount, secret.spec.path);
            await secret.provider.apply(first);
            await secret.provider.test(first);
            return { version, created: true };
          }),
        (r) => ({ toVersion: r.version, detail: { created: r.created } }),
      );
    },
  };
}

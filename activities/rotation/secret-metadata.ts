import type { ActivityContext } from '../activity-context.js';

/** What promotion stamps on a secret's KV metadata (versions.ts), read back. */
export interface Promotion {
  rotationId: string;
  previousVersion: number;
  promotedVersion: number;
}

/** The rotation whose promotion is the current version of `path`, if rotor promoted it. */
export async function lastPromotion(ctx: ActivityContext, path: string): Promise<Promotion | undefined> {
  const meta = await ctx.vault.run((v) => v.kvMetadata(ctx.env.ROTOR_VAULT_KV_MOUNT, path));
  const stamp = meta?.custom_metadata;
  const promotedVersion = Number(stamp?.rotor_promoted_version);
  const previousVersion = Number(stamp?.rotor_previous_version);
  if (!meta || !stamp?.rotor_rotation_id || promotedVersion !== meta.current_version || !Number.isInteger(previousVersion))
    return undefined;
  // A rollback stamps the same rotation id on the version it restores: that is no promotion.
  if (stamp.rotor_rolled_back_by) return undefined;
  return { rotationId: stamp.rotor_rotation_id, previousVersion, promotedVersion };
}

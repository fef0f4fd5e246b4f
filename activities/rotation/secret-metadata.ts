import type { KvMetadata } from '../../vault/vault-client.js';

/** What promotion stamps on a secret's KV metadata (versions.ts), read back. */
export interface Promotion {
  rotationId: string;
  previousVersion: number;
  promotedVersion: number;
}

/** The KV metadata promotion stamps on the secret (read back by `promotionOf`). */
export function promotionStamp(p: Promotion): Record<string, string> {
  return {
    rotor_rotation_id: p.rotationId,
    rotor_previous_version: String(p.previousVersion),
    rotor_promoted_version: String(p.promotedVersion),
  };
}

/** The rotation whose promotion is the current version, if rotor promoted it (a rollback is none). */
export function promotionOf(meta: KvMetadata): Promotion | undefined {
  const stamp = meta.custom_metadata;
  const promotedVersion = Number(stamp?.rotor_promoted_version);
  const previousVersion = Number(stamp?.rotor_previous_version);
  if (!stamp?.rotor_rotation_id || stamp.rotor_rolled_back_by || promotedVersion !== meta.current_version) return undefined;
  return Number.isInteger(previousVersion) ? { rotationId: stamp.rotor_rotation_id, previousVersion, promotedVersion } : undefined;
}

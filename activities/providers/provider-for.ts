import { ApplicationFailure } from '@temporalio/common';
import type { SecretSpec } from '../../config/inventory-schema.js';
import type { ActivityContext } from '../activity-context.js';
import { approleProviderFor } from './approle-provider.js';
import { postgresProviderFor, type PostgresAdmin } from './postgres-provider.js';
import type { Provider } from './provider.js';

/**
 * Admin credentials are read from Vault at most every ADMIN_CACHE_MS per worker: a rotation reads
 * it in every step, and an incident rotates hundreds of secrets of one target at once. A credential
 * changed in Vault is picked up within that window (a failed admin login is retried meanwhile).
 */
const ADMIN_CACHE_MS = 10_000;
const adminCache = new Map<string, { at: number; admin: PostgresAdmin | undefined }>();

async function adminCredential(ctx: ActivityContext, path: string): Promise<PostgresAdmin | undefined> {
  const key = `${ctx.env.ROTOR_VAULT_ADDR}|${ctx.env.ROTOR_VAULT_KV_MOUNT}|${path}`;
  const hit = adminCache.get(key);
  if (hit && Date.now() - hit.at < ADMIN_CACHE_MS) return hit.admin;
  const admin = (await ctx.vault.run((v) => v.kvRead<PostgresAdmin>(ctx.env.ROTOR_VAULT_KV_MOUNT, path)))?.data;
  adminCache.set(key, { at: Date.now(), admin });
  return admin;
}

/** Builds the provider a secret declares; the admin credential it needs is read from Vault, never from config. */
export async function providerFor(ctx: ActivityContext, spec: SecretSpec): Promise<Provider> {
  const p = spec.provider;
  switch (p.type) {
    case 'postgres': {
      const admin = await adminCredential(ctx, p.adminPath);
      if (!admin) {
        throw ApplicationFailure.nonRetryable(
          `the admin credential for "${spec.id}" is missing at ${ctx.env.ROTOR_VAULT_KV_MOUNT}/${p.adminPath}`,
          'MissingAdminCredential',
        );
      }
      return postgresProviderFor(p, admin);
    }
    case 'approle-secret-id':
      return approleProviderFor(p, ctx.vault, ctx.env.ROTOR_VAULT_ADDR);
  }
}

import { ApplicationFailure } from '@temporalio/common';
import type { SecretSpec } from '../../config/inventory-schema.js';
import type { ActivityContext } from '../activity-context.js';
import { approleProviderFor } from './approle-provider.js';
import { postgresProviderFor, type PostgresAdmin } from './postgres-provider.js';
import type { Provider } from './provider.js';

/** Builds the provider a secret declares; the admin credential it needs is read from Vault, never from config. */
export async function providerFor(ctx: ActivityContext, spec: SecretSpec): Promise<Provider> {
  const p = spec.provider;
  switch (p.type) {
    case 'postgres': {
      const admin = await ctx.vault.run((v) => v.kvRead<PostgresAdmin>(ctx.env.ROTOR_VAULT_KV_MOUNT, p.adminPath));
      if (!admin) {
        throw ApplicationFailure.nonRetryable(
          `the admin credential for "${spec.id}" is missing at ${ctx.env.ROTOR_VAULT_KV_MOUNT}/${p.adminPath}`,
          'MissingAdminCredential',
        );
      }
      return postgresProviderFor(p, admin.data);
    }
    case 'approle-secret-id':
      return approleProviderFor(p, ctx.vault, ctx.env.ROTOR_VAULT_ADDR);
  }
}

import { ApplicationFailure } from '@temporalio/common';
import type { ActivityContext } from './activity-context.js';
import { FailureType } from '../workflows/failure-types.js';

export interface StackHealth {
  vault: { version: string; sealed: boolean };
  database: { migrations: string[] };
}

/** Proves the worker can reach an unsealed Vault with its AppRole and rotor's migrated database. */
export function stackHealthActivities(ctx: ActivityContext) {
  return {
    async checkStackHealth(): Promise<StackHealth> {
      const vault = await ctx.vault.get();
      const health = await vault.health();
      if (health.sealed) throw ApplicationFailure.retryable('Vault is sealed', FailureType.VaultSealed);
      const rows = await ctx.db.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY name');
      return { vault: { version: health.version, sealed: health.sealed }, database: { migrations: rows.rows.map((r) => r.name) } };
    },
  };
}

import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Environment } from '../config/environment.js';
import { KvVersionCache } from '../vault/kv-version-cache.js';
import { VaultSession } from '../vault/vault-session.js';
import { keyAuditLog } from './audit/append-audit.js';
import { InventoryCache } from './inventory-cache.js';
import { ProviderCaches } from './providers/provider-caches.js';

/** What every activity may use; built once per worker process. */
export interface ActivityContext {
  env: Environment;
  /** The inventory file (env.ROTOR_INVENTORY), re-read when it changes. */
  inventory: InventoryCache;
  vault: VaultSession;
  /** Versions this worker has read or written: immutable, so steps of one rotation share them. */
  kvCache: KvVersionCache;
  /** Admin credentials (briefly) and target connection pools of this worker's providers. */
  providerCaches: ProviderCaches;
  db: pg.Pool;
  logger: Logger;
  /** For the few activities that act on other workflows (incident response ends break-glass grants). */
  temporal: Client;
}

/**
 * A context with fresh caches and the worker's own Vault session (its AppRole from `env`). The
 * caller owns `db` and `temporal`; close the context's target pools with `providerCaches.close()`.
 */
export function createActivityContext(env: Environment, deps: Pick<ActivityContext, 'db' | 'logger' | 'temporal'>): ActivityContext {
  const vault = new VaultSession(env.ROTOR_VAULT_ADDR, env.ROTOR_VAULT_ROLE_ID, env.ROTOR_VAULT_SECRET_ID);
  // Audit rows appended on this pool are MACed with the worker's own Vault session.
  keyAuditLog(deps.db, vault);
  return {
    env,
    inventory: new InventoryCache(env.ROTOR_INVENTORY),
    vault,
    kvCache: new KvVersionCache(),
    providerCaches: new ProviderCaches(),
    ...deps,
  };
}

import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Environment } from '../config/environment.js';
import type { KvVersionCache } from '../vault/kv-version-cache.js';
import type { VaultSession } from '../vault/vault-session.js';
import type { ProviderCaches } from './providers/provider-caches.js';

/** What every activity may use; built once per worker process. */
export interface ActivityContext {
  env: Environment;
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

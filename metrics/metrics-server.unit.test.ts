import { createServer, type Server } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActivityContext } from '../activities/activity-context.js';
import { InventoryCache } from '../activities/inventory-cache.js';
import { createLogger } from '../workers/logger.js';
import { startMetricsServer } from './metrics-server.js';

/**
 * The server alone, before any scrape: binding reads the inventory only (to create the counters'
 * series at 0; here a file that does not exist, so only `unknown`'s), so the context's pool is never
 * connected (gauges and counters are tested against the real stack in test/integration/metrics.test.ts).
 */
describe('startMetricsServer', () => {
  const db = new pg.Pool({ connectionString: 'postgres://unused@127.0.0.1:1/unused' });
  const ctx = {
    db,
    inventory: new InventoryCache('/nonexistent/rotor-inventory.yaml'),
    logger: createLogger('silent'),
  } as unknown as ActivityContext;
  let taken: Server;
  let takenPort: number;

  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    takenPort = (taken.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => taken.close(() => r()));
    await db.end();
  });

  it('refuses a port in use, naming ROTOR_METRICS_LISTEN and the fix', async () => {
    await expect(startMetricsServer(`127.0.0.1:${takenPort}`, ctx, undefined)).rejects.toThrow(
      `ROTOR_METRICS_LISTEN=127.0.0.1:${takenPort}: binding is already in use; set ROTOR_METRICS_LISTEN to a free ip:port of this host, e.g. "0.0.0.0:9464"`,
    );
  });

  it('refuses an address that is not this host’s', async () => {
    await expect(startMetricsServer('192.0.2.1:9464', ctx, undefined)).rejects.toThrow(
      'ROTOR_METRICS_LISTEN=192.0.2.1:9464: binding is not an address of this host',
    );
  });

  it('answers 404 beside /metrics, and frees its port on close', async () => {
    const server = await startMetricsServer('127.0.0.1:0', ctx, undefined);
    const base = server.url.replace(/\/metrics$/, '');
    const other = await fetch(`${base}/`);
    expect(other.status).toBe(404);
    expect(await other.text()).toBe('rotor serves GET /metrics\n');
    expect((await fetch(server.url, { method: 'POST' })).status).toBe(404);
    await server.close();
    await expect(fetch(server.url)).rejects.toThrow();
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActivityContext } from '../activities/activity-context.js';
import { InventoryCache } from '../activities/inventory-cache.js';
import { VaultSession } from '../vault/vault-session.js';
import { createLogger } from '../workers/logger.js';
import { readEach, withDeadline } from './gauge-sources.js';
import { createRotorMetrics, ROTATION_OUTCOMES } from './rotor-metrics.js';

describe('withDeadline', () => {
  it('answers with the work when it ends in time', async () => {
    await expect(withDeadline(Promise.resolve(42), 1_000, 'reading vault')).resolves.toBe(42);
  });

  it('gives up on work that outlasts the deadline, naming what was slow, without waiting for it', async () => {
    const started = Date.now();
    const hung = new Promise<never>(() => undefined);
    await expect(withDeadline(hung, 50, 'reading vault')).rejects.toThrow('reading vault took longer than 50 ms');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("passes the work's own failure on", async () => {
    await expect(withDeadline(Promise.reject(new Error('sealed')), 1_000, 'reading vault')).rejects.toThrow('sealed');
  });
});

describe('readEach', () => {
  it('keeps every value it could read when one key fails, and names the one that failed', async () => {
    const read = await readEach(['a', 'b', 'c', 'd'], 2, async (key) => {
      if (key === 'b') throw new Error('permission denied on apps/b');
      return key === 'd' ? undefined : key.charCodeAt(0);
    });
    expect([...read.values]).toEqual([
      ['a', 97],
      ['c', 99],
    ]);
    expect(read.failed).toEqual(['b']);
    expect((read.firstError as Error).message).toBe('permission denied on apps/b');
  });
});

/**
 * rotor's metrics over real clients whose servers are not there (nothing listens on port 1): the
 * inventory file is readable, Vault, PostgreSQL and Temporal are not. No fake server: the failures
 * are the clients' own (connection refused).
 */
describe('rotor metrics with sources down', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-metrics-'));
  const inventoryFile = join(dir, 'inventory.yaml');
  writeFileSync(
    inventoryFile,
    `secrets:
  - id: unit-db
    path: apps/unit-db
    owner: team-test
    provider: { type: postgres, adminPath: admin/unit, users: [unit_a, unit_b], database: demo }
    cadence: { every: 1h }
  - id: unit-redis
    path: apps/unit-redis
    owner: team-test
    provider: { type: redis-acl, adminPath: admin/unit-redis, users: [unit_a, unit_b] }
`,
  );
  const db = new pg.Pool({ connectionString: 'postgres://unused@127.0.0.1:1/unused' });
  const connection = Connection.lazy({ address: '127.0.0.1:1' });
  const ctx = {
    env: { ROTOR_VAULT_KV_MOUNT: 'rotor', ROTOR_TASK_QUEUE: 'rotor-unit' },
    inventory: new InventoryCache(inventoryFile),
    vault: new VaultSession('http://127.0.0.1:1', 'unused-role', 'unused-secret'),
    db,
    temporal: new Client({ connection }),
    logger: createLogger('silent'),
  } as unknown as ActivityContext;
  const budgetMs = 1_000;
  const metrics = createRotorMetrics(ctx, { budgetMs });
  let text: string;
  let tookMs: number;

  beforeAll(async () => {
    await metrics.ready;
    const started = Date.now();
    await metrics.registry.metrics();
    tookMs = Date.now() - started;
    // Counters are rendered beside the gauges' reads, so a read's failure counts from the next
    // scrape on; this one serves the same snapshot (cached), with the failures counted.
    text = await metrics.registry.metrics();
  });
  afterAll(async () => {
    metrics.stop();
    // The Temporal listing ends at the snapshot's deadline: let its client's retries end before closing it.
    await new Promise((r) => setTimeout(r, budgetMs));
    await db.end();
    await connection.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  const sample = (name: string, labels: string) => {
    const match = new RegExp(`^${name}\\{${labels.replace(/[{}]/g, '\\$&')}\\} (\\S+)$`, 'm').exec(text);
    return match ? Number(match[1]) : undefined;
  };

  it('keeps the series of the sources that answered and counts each source that did not, within the budget', () => {
    // The inventory answered: the cadence gauge is there.
    expect(sample('rotor_secret_cadence_seconds', 'secret="unit-db"')).toBe(3600);
    // The others failed: counted, their series missing.
    for (const source of ['vault', 'audit_log', 'incident_freeze', 'temporal'])
      expect(sample('rotor_metrics_collect_errors_total', `source="${source}"`), source).toBeGreaterThanOrEqual(1);
    expect(sample('rotor_metrics_collect_errors_total', 'source="inventory"')).toBe(0);
    expect(text).not.toMatch(/^rotor_secret_age_seconds\{/m);
    expect(text).not.toMatch(/^rotor_incidents_active /m);
    expect(text).not.toMatch(/^rotor_break_glass_grants_active /m);
    // One deadline for the whole snapshot (not one per source in turn), plus rendering.
    expect(tookMs).toBeLessThan(budgetMs + 500);
  });

  it('has every counter series at 0 before anything happened: each provider (and unknown) × each outcome (and other)', () => {
    for (const provider of ['postgres', 'redis-acl', 'unknown']) {
      for (const outcome of [...ROTATION_OUTCOMES, 'other'])
        expect(sample('rotor_rotations_total', `provider="${provider}",outcome="${outcome}"`), `${provider} ${outcome}`).toBe(0);
      expect(sample('rotor_rollbacks_total', `provider="${provider}"`), provider).toBe(0);
    }
    expect(ROTATION_OUTCOMES).toContain('failed');
  });
});

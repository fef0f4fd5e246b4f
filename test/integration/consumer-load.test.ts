import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsumerService } from '../../demo/consumer-service.js';
import { incidentWorkflowId, unfreezeWorkflowId } from '../../workflows/contracts.js';
import { revokeAll, unfreeze } from '../../workflows/revoke-all.js';
import { identityToken } from '../helpers/operators.js';
import { postgresSecretYaml, rotate, seed, startConsumer } from '../helpers/rotation-fixtures.js';
import { startTestStack, superuserClient, type TestStack } from '../helpers/test-stack.js';

/**
 * Real services under load through everything rotor does to their credential: each consumer keeps
 * a PostgreSQL pool busy querying a table while rotor rotates, rolls back and emergency-rotates.
 * Not one query may fail while rotor says it is safe (every consumer confirmed each move).
 */
const SECRET = 'load-db';
const TABLE = 'load_orders';
const LOAD = { query: `SELECT count(*) FROM ${TABLE}`, everyMs: 20 };

describe('consumers under load see no failed query through rotation, rollback and emergency rotation', () => {
  let stack: TestStack;
  const consumers: Record<'billing' | 'ledger' | 'laggard', ConsumerService> = {} as never;

  beforeAll(async () => {
    stack = await startTestStack('load', `secrets:\n${postgresSecretYaml(SECRET)}`);
    expect(await seed(stack, SECRET)).toBe(1);
    const su = await superuserClient(stack.file, 'demo');
    try {
      await su.query(`CREATE TABLE ${TABLE} (id int)`);
      await su.query(`GRANT SELECT ON ${TABLE} TO load_db_a`); // the application's privilege, on the seeded role only
    } finally {
      await su.end();
    }
    consumers.billing = await startConsumer(stack, SECRET, 'billing', undefined, LOAD);
    consumers.ledger = await startConsumer(stack, SECRET, 'ledger', 200, LOAD); // follows Vault, reports on /health
    consumers.laggard = await startConsumer(stack, SECRET, 'laggard', undefined, LOAD);
    const hook = (name: string, c: ConsumerService, timeout: string) =>
      `      - name: ${name}\n        confirm: { mode: webhook, url: ${c.url}/reload, timeout: ${timeout} }`;
    await stack.writeInventory(
      `secrets:\n${postgresSecretYaml(
        SECRET,
        [
          hook('billing', consumers.billing, '20s'),
          `      - name: ledger\n        confirm: { mode: health, url: ${consumers.ledger.url}/health, timeout: 20s }`,
          hook('laggard', consumers.laggard, '3s'),
        ].join('\n'),
      )}`,
    );
  });
  afterAll(async () => {
    for (const c of Object.values(consumers)) await c?.close();
    await stack?.close();
  });

  it('rotate, roll back (one consumer refuses), then revoke-all: 0 failed queries', async () => {
    expect(await rotate(stack, SECRET)).toMatchObject({ outcome: 'rotated', toVersion: 2 });

    consumers.laggard.setReloads(false); // never moves: the rotation rolls back, the others move back
    expect(await rotate(stack, SECRET)).toMatchObject({ outcome: 'rolled_back', attemptedVersion: 3, restoredVersion: 4 });
    expect(consumers.billing.version()).toBe(4);
    consumers.laggard.setReloads(true);

    const incidentId = 'inc-load';
    const report = await stack.client.workflow.execute(revokeAll, {
      taskQueue: stack.taskQueue,
      workflowId: incidentWorkflowId(incidentId),
      args: [
        {
          incidentId,
          reason: 'credential leaked under load',
          identity: await identityToken(stack.file, 'alice'),
          scope: { secretIds: [SECRET] },
          freeze: 'in-scope',
        },
      ],
    });
    expect(report.secrets[0]).toMatchObject({ status: 'done', fromVersion: 4, toVersion: 5 });
    expect(report.secrets[0]!.reason).toBeUndefined(); // every consumer confirmed in the emergency too
    await stack.client.workflow.execute(unfreeze, {
      taskQueue: stack.taskQueue,
      workflowId: unfreezeWorkflowId(incidentId, Date.now()),
      args: [{ incidentId, identity: await identityToken(stack.file, 'carol') }],
    });

    await new Promise((r) => setTimeout(r, 500)); // queries after the last revocation count too
    for (const [name, c] of Object.entries(consumers)) {
      const stats = c.loadStats();
      expect(stats.ok, `${name} ran queries`).toBeGreaterThan(50);
      expect(stats, `${name} saw a failed query`).toMatchObject({ failed: 0 });
    }
  });
});

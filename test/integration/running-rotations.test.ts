import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../config/load-inventory.js';
import { listRunningRotations } from '../../observe/running-rotations.js';
import { confirmCutoverUpdate } from '../../workflows/contracts.js';
import { identityToken } from '../helpers/operators.js';
import { postgresSecretYaml, seed, startRotation, waitForStatus } from '../helpers/rotation-fixtures.js';
import { startTestStack, type TestStack } from '../helpers/test-stack.js';

/**
 * What operations (metrics, stuck-rotation notifications) know of rotations in progress: the phase
 * from Temporal's visibility, since when from the audit log, and the limit from the inventory.
 */
describe('running rotations as an operator watches them', () => {
  let stack: TestStack;
  const inventory = `secrets:\n${postgresSecretYaml('watched-db', `      - name: ops\n        confirm: { mode: manual, timeout: 2m }`, '1h')}${postgresSecretYaml('idle-db')}`;

  beforeAll(async () => {
    stack = await startTestStack('running-rotations', inventory);
    expect(await seed(stack, 'watched-db')).toBe(1);
  });
  afterAll(async () => {
    await stack?.client.workflow
      .getHandle('rotate/watched-db')
      .terminate('test over')
      .catch(() => undefined);
    await stack?.close();
  });

  const running = async (now?: Date) =>
    listRunningRotations({
      client: stack.client,
      db: stack.worker.ctx.db,
      inventory: await loadInventory(stack.inventoryFile),
      taskQueue: stack.taskQueue,
      now,
    });

  /** Visibility is eventually consistent: the phase upsert shows up a moment after the query says so. */
  async function untilPhase(phase: string) {
    for (const deadline = Date.now() + 15_000; ; await new Promise((r) => setTimeout(r, 200))) {
      const list = await running();
      if (list[0]?.phase === phase || Date.now() > deadline) return list;
    }
  }

  it('reports the phase, since when and until when; past the limit it is stuck', async () => {
    expect(await running()).toEqual([]);
    const started = new Date();
    const handle = await startRotation(stack, 'watched-db');
    await waitForStatus(stack, handle.workflowId, (s) => s.phase === 'awaiting_confirmation');

    const [awaiting, ...others] = await untilPhase('awaiting_confirmation');
    expect(others).toEqual([]);
    expect(awaiting).toMatchObject({
      secretId: 'watched-db',
      workflowId: 'rotate/watched-db',
      phase: 'awaiting_confirmation',
      stuck: false,
    });
    // Since promotion (the audit row that ended the promoting phase), limited by ops' 2 minutes plus the margin.
    const { rows } = await stack.worker.ctx.db.query<{ at: Date }>(
      "SELECT at FROM audit_log WHERE run_id = $1 AND step = 'promote' AND outcome = 'succeeded'",
      [awaiting!.runId],
    );
    expect(awaiting!.phaseSince).toEqual(rows[0]!.at);
    expect(awaiting!.phaseSince.getTime()).toBeGreaterThanOrEqual(started.getTime() - 1000);
    expect(awaiting!.limitMs).toBe(2 * 60_000 + 5 * 60_000);
    const past = new Date(awaiting!.phaseSince.getTime() + awaiting!.limitMs! + 1);
    expect((await running(past))[0]).toMatchObject({ phase: 'awaiting_confirmation', stuck: true });

    await handle.executeUpdate(confirmCutoverUpdate, {
      args: [{ consumer: 'ops', version: 2, identity: await identityToken(stack.file, 'carol') }],
    });
    const [overlap] = await untilPhase('overlap');
    expect(overlap).toMatchObject({ phase: 'overlap', stuck: false, limitMs: 3_600_000 + 5 * 60_000 });
    expect(overlap!.phaseSince.getTime()).toBeGreaterThan(awaiting!.phaseSince.getTime());

    // Another task queue's rotations (another deployment sharing the namespace) are not ours.
    expect(
      await listRunningRotations({
        client: stack.client,
        db: stack.worker.ctx.db,
        inventory: await loadInventory(stack.inventoryFile),
        taskQueue: `${stack.taskQueue}-other`,
      }),
    ).toEqual([]);
  });
});

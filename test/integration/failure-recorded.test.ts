import { WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataConverter } from '../../workers/data-converter.js';
import { postgresSecretYaml } from '../helpers/rotation-fixtures.js';
import { startTestStack, type TestStack } from '../helpers/test-stack.js';

/**
 * A rotation that fails outright (no rollback or abort to report it) still leaves its
 * rotation_finished audit row (Patch.FAILURE_RECORDED), which metrics count and notifications send;
 * and the history it writes replays on the same code.
 */
describe('a rotation that fails outright is on record', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack('failure-recorded', `secrets:\n${postgresSecretYaml('recorded-db')}`);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('a secret that left the inventory: the run fails, its rotation_finished row says failed and why, and it replays', async () => {
    const workflowId = 'rotate/left-inventory-db';
    const run = stack.client.workflow.execute('rotateSecret', {
      taskQueue: stack.taskQueue,
      workflowId,
      args: [{ secretId: 'left-inventory-db', requestedBy: 'scheduler' }],
    });
    await expect(run).rejects.toBeInstanceOf(WorkflowFailedError);

    const { rows } = await stack.worker.ctx.db.query<{ outcome: string; actor: string; detail: Record<string, unknown> }>(
      "SELECT outcome, actor, detail FROM audit_log WHERE workflow_id = $1 AND step = 'rotation_finished'",
      [workflowId],
    );
    expect(rows).toEqual([
      {
        outcome: 'failed',
        actor: 'scheduler',
        detail: { outcome: 'failed', reason: expect.stringContaining('secretId "left-inventory-db" is not in the inventory') },
      },
    ]);

    const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
    const markers = history.events?.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch') ?? [];
    expect(markers.length).toBe(1);
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: stack.workflowBundle }, dataConverter: dataConverter(stack.env.ROTOR_CODEC_KEY) },
      history,
      workflowId,
    );
  });
});

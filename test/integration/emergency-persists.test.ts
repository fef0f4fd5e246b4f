import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SecretStatus } from '../../cli/commands/status.js';
import { rotationWorkflowId, statusQuery } from '../../workflows/contracts.js';
import { emergencyRotate } from '../../workflows/emergency-rotate.js';
import { kvVersion, postgresSecretYaml, seed, waitForStatus } from '../helpers/rotation-fixtures.js';
import { cliEnv, describeRun, killRunningClis, runCli } from '../helpers/run-cli.js';
import { startTestStack, superuserClient, type TestStack } from '../helpers/test-stack.js';

/**
 * Invariant compromised-never-left-valid: an emergency revocation that cannot finish (the old
 * role's row locked by another session, for real) keeps trying and says so, until a person ends it
 * with `rotor incident end-revocation`. (npm run chaos releases the lock instead: the old
 * credential ends refused.)
 */
describe('an emergency revocation that keeps failing', () => {
  let stack: TestStack;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    stack = await startTestStack('persist', `secrets:\n${postgresSecretYaml('persist-db')}`);
    expect(await seed(stack, 'persist-db')).toBe(1);
    env = cliEnv(stack);
  });
  afterAll(async () => {
    killRunningClis();
    await stack?.close();
  });
  const rotor = (...args: string[]) => runCli(args, { env });

  it('keeps retrying, shows it in rotor status, and ends only when a person says so', { timeout: 120_000 }, async () => {
    const compromised = await kvVersion(stack, 'persist-db');
    const locker = await superuserClient(stack.file, 'demo');
    try {
      await locker.query('BEGIN');
      await locker.query(`ALTER ROLE "${compromised.data.username}" CONNECTION LIMIT 100`);
      const handle = await stack.client.workflow.start(emergencyRotate, {
        taskQueue: stack.taskQueue,
        workflowId: rotationWorkflowId('persist-db'),
        args: [{ secretId: 'persist-db', requestedBy: 'test', reason: 'leaked in a log' }],
      });
      // Past the fast attempts (3 × 5 s lock timeout): retrying, not failed.
      const retrying = await waitForStatus(stack, handle.workflowId, (s) => s.revocationRetrying !== undefined, 60_000);
      expect(retrying.revocationRetrying?.firstFailure).toMatch(/role row of ".*" is locked by another session/);
      expect((await handle.describe()).status.name).toBe('RUNNING');

      const status = await rotor('status', 'persist-db', '--json');
      expect(status.code, describeRun(status)).toBe(0);
      const [secret] = JSON.parse(status.stdout) as SecretStatus[];
      expect(secret?.inFlight?.revocationRetrying?.firstFailure).toMatch(/locked by another session/);

      const noReason = await rotor('incident', 'end-revocation', 'persist-db', '--by', 'bob');
      expect(noReason.code, describeRun(noReason)).toBe(2);
      expect(noReason.stderr).toMatch(/missing --reason/);
      const short = await rotor('incident', 'end-revocation', 'persist-db', '--by', 'bob', '--reason', 'done');
      expect(short.code, describeRun(short)).toBe(1);
      expect(short.stderr).toMatch(/reason.*at least 10 characters/);
      expect((await handle.query(statusQuery)).revocationRetrying).toBeDefined(); // a refused request changed nothing

      const ended = await rotor('incident', 'end-revocation', 'persist-db', '--by', 'bob', '--reason', 'role disabled by hand');
      expect(ended.code, describeRun(ended)).toBe(0);
      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect(String((err as WorkflowFailedError).cause?.message)).toMatch(/revoking version 1 failed: ended by bob: role disabled by hand/);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    // The audit log says who ended it, before the rotation's end; nothing is left retrying.
    const db = await superuserClient(stack.file, 'rotor');
    try {
      const rows = await db.query<{ step: string; outcome: string; detail: { by?: string } }>(
        `SELECT step, outcome, detail FROM audit_log WHERE workflow_id = $1
           AND step IN ('revocation_retrying', 'revocation_ended_by_person', 'rotation_finished') ORDER BY seq`,
        [rotationWorkflowId('persist-db')],
      );
      expect(rows.rows.map((r) => `${r.step}:${r.outcome}`)).toEqual([
        'revocation_retrying:failed',
        'revocation_ended_by_person:succeeded',
        'rotation_finished:failed',
      ]);
      expect(rows.rows[1]?.detail.by).toBe('bob');
      const { pendingActivities } = await stack.client.workflow
        .getHandle(rotationWorkflowId('persist-db'))
        .describe()
        .then((d) => d.raw);
      expect(pendingActivities ?? []).toEqual([]);
    } finally {
      await db.end();
    }
  });
});

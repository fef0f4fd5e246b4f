import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SecretStatus } from '../../cli/commands/status.js';
import { incidentWorkflowId, rotationWorkflowId, statusQuery } from '../../workflows/contracts.js';
import { emergencyRotate } from '../../workflows/emergency-rotate.js';
import { FailureType } from '../../workflows/failure-types.js';
import type { IncidentReport } from '../../workflows/incident-types.js';
import { revokeAll } from '../../workflows/revoke-all.js';
import { rotateSecret } from '../../workflows/rotate-secret.js';
import { identityToken, type OperatorName } from '../helpers/operators.js';
import { kvVersion, postgresSecretYaml, seed, waitForStatus } from '../helpers/rotation-fixtures.js';
import { cliEnv, describeRun, killRunningClis, runCli } from '../helpers/run-cli.js';
import { startTestStack, superuserClient, type TestStack } from '../helpers/test-stack.js';

/**
 * Invariant compromised-never-left-valid: an emergency revocation that cannot finish (the old
 * role's row locked by another session, for real) keeps trying and says so, until a verified
 * incident responder ends it with `rotor incident end-revocation`. (npm run chaos releases the
 * lock instead: the old credential ends refused.) Emergency mode is incident response's alone:
 * the rotation is started by revokeAll, never by a client directly.
 */
describe('an emergency revocation that keeps failing', () => {
  let stack: TestStack;
  const envs = new Map<OperatorName, NodeJS.ProcessEnv>();
  beforeAll(async () => {
    stack = await startTestStack('persist', `secrets:\n${postgresSecretYaml('persist-db')}`);
    expect(await seed(stack, 'persist-db')).toBe(1);
    for (const user of ['alice', 'bob', 'carol'] as const) envs.set(user, await cliEnv(stack, user));
  });
  afterAll(async () => {
    killRunningClis();
    const su = stack && (await superuserClient(stack.file, 'rotor').catch(() => undefined));
    await su?.query(
      "UPDATE incident_freeze SET lifted_at = now(), lifted_by = 'test-cleanup' WHERE incident_id = $1 AND lifted_at IS NULL",
      [incidentId],
    );
    await su?.end();
    await stack?.close();
  });
  /** `rotor <args>` run by `user`, logged in as themselves. */
  const as =
    (user: OperatorName) =>
    (...args: string[]) =>
      runCli(args, { env: envs.get(user)! });
  const rotor = as('carol');
  const incidentId = `inc-persist-${Date.now().toString(36)}`;

  it('a client cannot start an emergency rotation itself: emergency mode is refused outside incident response', async () => {
    for (const start of [
      () =>
        stack.client.workflow.execute(emergencyRotate, {
          taskQueue: stack.taskQueue,
          workflowId: rotationWorkflowId('persist-db'),
          args: [{ secretId: 'persist-db', requestedBy: 'test', reason: 'leaked in a log' }],
        }),
      () =>
        stack.client.workflow.execute(rotateSecret, {
          taskQueue: stack.taskQueue,
          workflowId: rotationWorkflowId('persist-db'),
          args: [{ secretId: 'persist-db', requestedBy: 'test', emergency: true, reason: 'leaked in a log' }],
        }),
    ]) {
      const err = await start().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect((cause as ApplicationFailure).type).toBe(FailureType.EmergencyNotAllowed);
      expect(cause?.message).toMatch(/emergency rotation of persist-db refused: emergency mode is started only by incident response/);
    }
    expect((await kvVersion(stack, 'persist-db')).version).toBe(1); // nothing was rotated
  });

  it('keeps retrying, shows it in rotor status, and ends only when a person says so', { timeout: 120_000 }, async () => {
    const compromised = await kvVersion(stack, 'persist-db');
    const locker = await superuserClient(stack.file, 'demo');
    try {
      await locker.query('BEGIN');
      await locker.query(`ALTER ROLE "${compromised.data.username}" CONNECTION LIMIT 100`);
      // Incident response, started by a verified responder (alice), emergency-rotates the secret.
      const incident = await stack.client.workflow.start(revokeAll, {
        taskQueue: stack.taskQueue,
        workflowId: incidentWorkflowId(incidentId),
        args: [
          {
            incidentId,
            reason: 'leaked in a log',
            identity: await identityToken(stack.file, 'alice'),
            scope: { secretIds: ['persist-db'] },
            freeze: 'in-scope',
          },
        ],
      });
      let handle = stack.client.workflow.getHandle(rotationWorkflowId('persist-db'));
      for (let i = 0; i < 200; i++) {
        const d = await handle.describe().catch(() => undefined);
        if (d?.status.name === 'RUNNING' && d.parentExecution?.workflowId === incident.workflowId) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      handle = stack.client.workflow.getHandle(rotationWorkflowId('persist-db'), (await handle.describe()).runId);
      // Past the fast attempts (3 × 5 s lock timeout): retrying, not failed.
      const retrying = await waitForStatus(stack, handle.workflowId, (s) => s.revocationRetrying !== undefined, 60_000);
      expect(retrying.revocationRetrying?.firstFailure).toMatch(/role row of ".*" is locked by another session/);
      expect((await handle.describe()).status.name).toBe('RUNNING');

      const status = await rotor('status', 'persist-db', '--json');
      expect(status.code, describeRun(status)).toBe(0);
      const [secret] = JSON.parse(status.stdout) as SecretStatus[];
      expect(secret?.inFlight?.revocationRetrying?.firstFailure).toMatch(/locked by another session/);

      // Ending it is an incident responder's decision: bob is not one.
      const notResponder = await as('bob')('incident', 'end-revocation', 'persist-db', '--reason', 'role disabled by hand');
      expect(notResponder.code, describeRun(notResponder)).toBe(1);
      expect(notResponder.stderr).toMatch(
        /bob may not end the emergency revocation of persist-db: not in the identity group rotor-incident-responders/,
      );
      expect((await handle.query(statusQuery)).revocationRetrying).toBeDefined();

      const noReason = await rotor('incident', 'end-revocation', 'persist-db');
      expect(noReason.code, describeRun(noReason)).toBe(2);
      expect(noReason.stderr).toMatch(/missing --reason/);
      const short = await rotor('incident', 'end-revocation', 'persist-db', '--reason', 'done');
      expect(short.code, describeRun(short)).toBe(1);
      expect(short.stderr).toMatch(/reason.*at least 10 characters/);
      expect((await handle.query(statusQuery)).revocationRetrying).toBeDefined(); // a refused request changed nothing

      const ended = await rotor('incident', 'end-revocation', 'persist-db', '--reason', 'role disabled by hand');
      expect(ended.code, describeRun(ended)).toBe(0);
      expect(ended.stdout).toContain('emergency revocation of persist-db ended by carol');
      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect(String((err as WorkflowFailedError).cause?.message)).toMatch(
        /revoking version 1 failed: ended by carol: role disabled by hand/,
      );
      const report = (await incident.result()) as IncidentReport;
      expect(report).toMatchObject({ requestedBy: 'alice', summary: { failed: 1 } });
      expect(report.secrets[0]).toMatchObject({
        secretId: 'persist-db',
        status: 'failed',
        reason: expect.stringMatching(/ended by carol/),
      });
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
      expect(rows.rows[1]?.detail.by).toBe('carol');
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

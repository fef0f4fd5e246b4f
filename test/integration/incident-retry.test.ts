import { randomBytes, randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivityContext } from '../../activities/activity-context.js';
import { createActivities } from '../../activities/index.js';
import * as freezeStore from '../../activities/incident/freeze-store.js';
import { VaultClient } from '../../vault/vault-client.js';
import type { BreakGlassStatus } from '../../workflows/break-glass-types.js';
import { breakGlass } from '../../workflows/break-glass.js';
import { approveUpdate, breakGlassStatusQuery } from '../../workflows/contracts.js';
import { FailureType } from '../../workflows/failure-types.js';
import { rotorDatabasePool } from '../../workers/create-worker.js';
import { identityToken, operatorToken } from '../helpers/operators.js';
import { postgresSecretYaml, seed } from '../helpers/rotation-fixtures.js';
import { canLogin, createLogger, startTestStack, type TestStack } from '../helpers/test-stack.js';

/**
 * Temporal runs an activity again when its worker died after the work was done but before the
 * result was recorded: same workflow, run and activity id, next attempt. Ending an incident's freeze
 * and ending a break-glass grant must then report the same success, and audit it once. The real
 * activities run against the real database, Vault and Temporal.
 */
const suffix = randomBytes(3).toString('hex');
const SECRET = 'retry-bg-db';

describe('incident endings retried after they succeeded', () => {
  let stack: TestStack;
  let db: pg.Pool;
  let acts: ReturnType<typeof createActivities>;

  beforeAll(async () => {
    stack = await startTestStack(
      'retry',
      `secrets:
${postgresSecretYaml(SECRET)}
breakGlass:
  - id: retry-bg
    secretId: ${SECRET}
    requesterGroups: [rotor-breakglass-requesters]
    approverGroups: [rotor-breakglass-approvers]
    approvals: 1
    rotateAfter: false
`,
    );
    db = rotorDatabasePool(stack.env.ROTOR_DATABASE_URL, createLogger('warn'), 2);
    acts = createActivities(createActivityContext(stack.env, { db, logger: createLogger('warn'), temporal: stack.client }));
  });
  afterAll(async () => {
    await db?.end();
    await stack?.close();
  });

  /** Runs `fn` as attempt `attempt` of one activity of one workflow run, as the worker would. */
  const asActivity =
    (workflowId: string, runId = randomUUID(), activityId = '1') =>
    <A extends unknown[], R>(attempt: number, fn: (...args: A) => Promise<R>, ...args: A) =>
      new MockActivityEnvironment({ activityId, attempt, workflowExecution: { workflowId, runId } }).run(fn, ...args) as Promise<R>;

  const auditRows = async (workflowId: string, step: string) =>
    (
      await db.query<{ outcome: string; detail: Record<string, unknown> }>(
        'SELECT outcome, detail FROM audit_log WHERE workflow_id = $1 AND step = $2 ORDER BY seq',
        [workflowId, step],
      )
    ).rows;

  /** A freeze that holds only a secret no inventory has, so no other test is held by it. */
  const freeze = (incidentId: string) =>
    freezeStore.startFreeze(db, { incidentId, reason: 'retry test', startedBy: 'alice', secretIds: [`nothing-${incidentId}`] });

  it('liftFreeze run again after it lifted the freeze succeeds with the same result and one audit row', async () => {
    const incidentId = `inc-retry-${suffix}`;
    await freeze(incidentId);
    const workflowId = `unfreeze/${incidentId}/1`;
    const run = asActivity(workflowId);

    expect(await run(1, acts.liftFreeze, { incidentId, by: 'bob' })).toEqual({ startedBy: 'alice' });
    // The worker died before reporting: Temporal runs attempt 2 of the same activity.
    expect(await run(2, acts.liftFreeze, { incidentId, by: 'bob' })).toEqual({ startedBy: 'alice' });

    const rows = await auditRows(workflowId, 'incident_unfreeze');
    expect(rows.map((r) => r.outcome)).toEqual(['succeeded']);
    const state = await freezeStore.freezeState(db, incidentId);
    expect(state).toMatchObject({ liftedBy: 'bob', liftedAt: expect.any(Date) });
    expect(rows[0]!.detail).toMatchObject({ incidentId, liftedAt: state!.liftedAt!.toISOString() });
    // Someone else, later, is still told it was lifted already (by whom).
    const other = await asActivity(`unfreeze/${incidentId}/2`)(1, acts.liftFreeze, { incidentId, by: 'carol' }).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(ApplicationFailure);
    expect(other).toMatchObject({ type: FailureType.AlreadyLifted, nonRetryable: true });
    expect((other as Error).message).toMatch(/already lifted by bob/);
  });

  it('liftFreeze whose first attempt lifted the freeze but died before its audit row: the retry succeeds and writes that row once', async () => {
    const incidentId = `inc-retry-crash-${suffix}`;
    await freeze(incidentId);
    const workflowId = `unfreeze/${incidentId}/1`;
    const run = asActivity(workflowId);
    await freezeStore.liftFreeze(db, incidentId, 'bob'); // attempt 1's write; then its worker was killed

    expect(await run(2, acts.liftFreeze, { incidentId, by: 'bob' })).toEqual({ startedBy: 'alice' });
    expect(await run(3, acts.liftFreeze, { incidentId, by: 'bob' })).toEqual({ startedBy: 'alice' });
    expect((await auditRows(workflowId, 'incident_unfreeze')).map((r) => r.outcome)).toEqual(['succeeded']);
  });

  it('endBreakGlassGrant run again after it ended the grant succeeds with the same outcome and one audit row', async () => {
    await seed(stack, SECRET);
    const handle = await stack.client.workflow.start(breakGlass, {
      taskQueue: stack.taskQueue,
      workflowId: `break-glass/retry-bg/${suffix}`,
      args: [
        {
          policyId: 'retry-bg',
          identity: await identityToken(stack.file, 'alice'),
          justification: 'debugging before the incident',
          ttl: '30m',
        },
      ],
    });
    let status: BreakGlassStatus | undefined;
    for (let i = 0; i < 100 && !(status = await handle.query(breakGlassStatusQuery)).open; i++) await new Promise((r) => setTimeout(r, 50));
    await handle.executeUpdate(approveUpdate, { args: [{ identity: await identityToken(stack.file, 'carol') }] });
    for (let i = 0; i < 200 && (status = await handle.query(breakGlassStatusQuery)).phase !== 'granted'; i++)
      await new Promise((r) => setTimeout(r, 100));
    // Alice reads her grant with her own Vault token, where only she can.
    const cred = (await new VaultClient(stack.env.ROTOR_VAULT_ADDR, await operatorToken(stack.file, 'alice')).kvRead<{
      username: string;
      password: string;
    }>(stack.env.ROTOR_VAULT_KV_MOUNT, status!.grant!.deliveredTo!))!.data;
    expect(await canLogin(stack.file, cred.username, cred.password)).toBe(true);

    const incidentId = `inc-retry-grant-${suffix}`;
    const workflowId = `incident/${incidentId}`;
    const run = asActivity(workflowId);
    const ref = { incidentId, workflowId: handle.workflowId, actor: `alice (incident ${incidentId})` };
    // A real incident: the grant's workflow ends only for one whose freeze is active.
    await run(1, acts.startFreeze, { incidentId, reason: 'grant retry test', actor: 'alice', secretIds: [SECRET] });
    expect(await run(1, acts.endBreakGlassGrant, ref)).toEqual({ outcome: 'revoked' });
    expect(await canLogin(stack.file, cred.username, cred.password)).toBe(false);
    // The worker died before reporting; the grant's workflow has closed since. Attempt 2:
    expect(await run(2, acts.endBreakGlassGrant, ref)).toEqual({ outcome: 'revoked' });

    const rows = await auditRows(workflowId, 'incident_end_break_glass');
    expect(rows.map((r) => r.outcome)).toEqual(['succeeded']);
    expect(rows[0]!.detail).toMatchObject({ incidentId, grantWorkflow: handle.workflowId, outcome: 'revoked' });
  });
});

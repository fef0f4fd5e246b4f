import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confirmCutoverUpdate, incidentWorkflowId, rotationWorkflowId, unfreezeWorkflowId } from '../../workflows/contracts.js';
import { revokeAll, unfreeze } from '../../workflows/revoke-all.js';
import { kvVersion, postgresSecretYaml, seed, startRotation, waitForStatus, type DbCredential } from '../helpers/rotation-fixtures.js';
import { canLogin, startTestStack, type TestStack } from '../helpers/test-stack.js';

/**
 * Incident response meets a rotation that is already running for a secret in scope: it must not
 * leave the compromised credential valid because `rotate/<secret>` is taken. It cancels the running
 * rotation (which cleans up after itself), then emergency-rotates. Asserted at PostgreSQL.
 */
const INCIDENT = 'inc-preempt';
const manual = `      - name: ops\n        confirm: { mode: manual, timeout: 1h }`;
const inventory = `secrets:\n${postgresSecretYaml('pre-overlap', '', '1h')}${postgresSecretYaml('pre-manual', manual, '1h')}`;

describe('revokeAll pre-empts a running rotation', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack('preempt', inventory);
    for (const id of ['pre-overlap', 'pre-manual']) expect(await seed(stack, id)).toBe(1);
  });
  afterAll(async () => {
    await stack?.client.workflow
      .execute(unfreeze, {
        taskQueue: stack.taskQueue,
        workflowId: unfreezeWorkflowId(INCIDENT, Date.now()),
        args: [{ incidentId: INCIDENT, by: 'bob' }],
      })
      .catch(() => undefined);
    await stack?.close();
  });

  it('a rotation in its overlap revokes the old version at once; one awaiting a person rolls back; then both are emergency-rotated', async () => {
    const logsIn = (c: DbCredential) => canLogin(stack.file, c.username, c.password);
    const original = { overlap: (await kvVersion(stack, 'pre-overlap')).data, manual: (await kvVersion(stack, 'pre-manual')).data };

    const inOverlap = await startRotation(stack, 'pre-overlap');
    await waitForStatus(stack, inOverlap.workflowId, (s) => s.phase === 'overlap');
    const overlapNew = (await kvVersion(stack, 'pre-overlap')).data;
    expect(await logsIn(original.overlap)).toBe(true); // both valid during the overlap
    expect(await logsIn(overlapNew)).toBe(true);

    const awaiting = await startRotation(stack, 'pre-manual');
    await waitForStatus(stack, awaiting.workflowId, (s) => s.phase === 'awaiting_confirmation');
    const manualNew = (await kvVersion(stack, 'pre-manual')).data;

    const incident = await stack.client.workflow.start(revokeAll, {
      taskQueue: stack.taskQueue,
      workflowId: incidentWorkflowId(INCIDENT),
      args: [
        {
          incidentId: INCIDENT,
          reason: 'both credentials leaked mid-rotation',
          requestedBy: 'alice',
          scope: { secretIds: ['pre-overlap', 'pre-manual'] },
          freeze: 'in-scope',
        },
      ],
    });
    // The person behind the manual consumer confirms the emergency version (instead of the 30 s wait).
    const emergency = await waitForStatus(
      stack,
      rotationWorkflowId('pre-manual'),
      (s) => s.emergency && s.phase === 'awaiting_confirmation',
    );
    await stack.client.workflow
      .getHandle(rotationWorkflowId('pre-manual'))
      .executeUpdate(confirmCutoverUpdate, { args: [{ consumer: 'ops', version: emergency.toVersion!, confirmedBy: 'carol' }] });
    const report = await incident.result();
    const item = (id: string) => report.secrets.find((s) => s.secretId === id)!;
    expect(item('pre-overlap')).toMatchObject({ status: 'done', preempted: 'rotate/pre-overlap', fromVersion: 2, toVersion: 3 });
    expect(item('pre-manual')).toMatchObject({ status: 'done', preempted: 'rotate/pre-manual', fromVersion: 3, toVersion: 4 });

    // What the pre-empted rotations did with the cancellation.
    expect(await inOverlap.result()).toMatchObject({ outcome: 'rotated', fromVersion: 1, toVersion: 2 });
    expect(await awaiting.result()).toMatchObject({ outcome: 'rolled_back', attemptedVersion: 2, restoredVersion: 3 });

    // Every credential that existed before the incident is refused; only the emergency versions log in.
    for (const c of [original.overlap, overlapNew, original.manual, manualNew]) expect(await logsIn(c)).toBe(false);
    expect(await logsIn((await kvVersion(stack, 'pre-overlap')).data)).toBe(true);
    expect(await logsIn((await kvVersion(stack, 'pre-manual')).data)).toBe(true);
  });
});

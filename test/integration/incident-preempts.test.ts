import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confirmCutoverUpdate, incidentWorkflowId, rotationWorkflowId, unfreezeWorkflowId } from '../../workflows/contracts.js';
import { revokeAll, unfreeze } from '../../workflows/revoke-all.js';
import { identityToken } from '../helpers/operators.js';
import { kvVersion, postgresSecretYaml, seed, startRotation, waitForStatus, type DbCredential } from '../helpers/rotation-fixtures.js';
import { canLogin, startTestStack, type TestStack } from '../helpers/test-stack.js';

/**
 * Incident response meets a rotation that is already running for a secret in scope: it must not
 * leave the compromised credential valid because `rotate/<secret>` is taken. It cancels the running
 * rotation (which cleans up after itself), then emergency-rotates. Asserted at PostgreSQL.
 */
const INCIDENT = 'inc-preempt';
const manual = `      - name: ops\n        confirm: { mode: manual, timeout: 1h }`;
const twoPeople = `${manual}\n      - name: late\n        confirm: { mode: manual, timeout: 1h }`;
const inventory = `secrets:\n${postgresSecretYaml('pre-overlap', '', '1h')}${postgresSecretYaml('pre-manual', manual, '1h')}${postgresSecretYaml('pre-moved', twoPeople, '1h')}`;

describe('revokeAll pre-empts a running rotation', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack('preempt', inventory);
    for (const id of ['pre-overlap', 'pre-manual', 'pre-moved']) expect(await seed(stack, id)).toBe(1);
  });
  afterAll(async () => {
    for (const incidentId of [INCIDENT, `${INCIDENT}-2`]) {
      await stack?.client.workflow
        .execute(unfreeze, {
          taskQueue: stack.taskQueue,
          workflowId: unfreezeWorkflowId(incidentId, Date.now()),
          args: [{ incidentId, identity: await identityToken(stack.file, 'carol') }],
        })
        .catch(() => undefined);
    }
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
          identity: await identityToken(stack.file, 'alice'),
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
    await stack.client.workflow.getHandle(rotationWorkflowId('pre-manual')).executeUpdate(confirmCutoverUpdate, {
      args: [{ consumer: 'ops', version: emergency.toVersion!, identity: await identityToken(stack.file, 'carol') }],
    });
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

  it('a pre-empted rollback does not wait for a consumer that had moved to the new version: the incident goes on at once', async () => {
    const logsIn = (c: DbCredential) => canLogin(stack.file, c.username, c.password);
    const original = (await kvVersion(stack, 'pre-moved')).data;
    const rotation = await startRotation(stack, 'pre-moved');
    await waitForStatus(stack, rotation.workflowId, (s) => s.phase === 'awaiting_confirmation');
    const moved = (await kvVersion(stack, 'pre-moved')).data;
    await rotation.executeUpdate(confirmCutoverUpdate, {
      args: [{ consumer: 'ops', version: 2, identity: await identityToken(stack.file, 'carol') }],
    }); // ops moved; late has not

    const incidentId = `${INCIDENT}-2`;
    const incident = await stack.client.workflow.start(revokeAll, {
      taskQueue: stack.taskQueue,
      workflowId: incidentWorkflowId(incidentId),
      args: [
        {
          incidentId,
          reason: 'leaked while half the consumers moved',
          identity: await identityToken(stack.file, 'alice'),
          scope: { secretIds: ['pre-moved'] },
          freeze: 'in-scope',
        },
      ],
    });
    // Without the pre-emption rule the rollback would wait up to an hour for ops to move back.
    const emergency = await waitForStatus(
      stack,
      rotationWorkflowId('pre-moved'),
      (s) => s.emergency && s.phase === 'awaiting_confirmation',
    );
    for (const consumer of ['ops', 'late'])
      await stack.client.workflow.getHandle(rotationWorkflowId('pre-moved')).executeUpdate(confirmCutoverUpdate, {
        args: [{ consumer, version: emergency.toVersion!, identity: await identityToken(stack.file, 'carol') }],
      });
    const report = await incident.result();
    expect(report.secrets[0]).toMatchObject({ status: 'done', preempted: 'rotate/pre-moved', fromVersion: 3, toVersion: 4 });
    expect(await rotation.result()).toMatchObject({ outcome: 'rolled_back', attemptedVersion: 2, restoredVersion: 3 });
    for (const c of [original, moved]) expect(await logsIn(c)).toBe(false);
    expect(await logsIn((await kvVersion(stack, 'pre-moved')).data)).toBe(true);
  });
});

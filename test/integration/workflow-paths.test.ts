import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../activities/index.js';
import { readStackFile } from '../../stack/up.js';
import { incidentWorkflowId, rotationWorkflowId, planWorkflowId } from '../../workflows/contracts.js';
import { emergencyRotate } from '../../workflows/emergency-rotate.js';
import { rotatePlan } from '../../workflows/rotate-plan.js';
import { revokeAll } from '../../workflows/revoke-all.js';
import { rotateSecret } from '../../workflows/rotate-secret.js';
import type { RotationRef, RotationResult, RotationSpec } from '../../workflows/rotation-types.js';
import { withFailedStep } from '../../workflows/step-failure.js';

/**
 * The workflows' own decisions - what runs after a failure at each phase - on the real Temporal
 * dev server, with stub activities that record every call and fail where a scenario says. The
 * same paths against real Vault and PostgreSQL are in rotate-secret, rotate-plan and revoke-all tests.
 */

type Call = { name: string; secretId: string; input: Record<string, unknown> };
type Script = Partial<Record<keyof Activities, (input: Record<string, unknown>, attempt: number) => unknown>>;

const nonRetryable = (message: string, type = 'CredentialRejected') => ApplicationFailure.nonRetryable(message, type);
const spec = (secretId: string, consumers: RotationSpec['consumers'] = []): RotationSpec => ({
  secretId,
  path: `apps/${secretId}`,
  providerType: 'postgres',
  overlapMs: 0,
  consumers,
});
const webhook = (name: string) => ({ name, mode: 'webhook' as const, timeoutMs: 5_000 });

let calls: Call[] = [];
let scripts = new Map<string, Script>(); // per secret id
const attempts = new Map<string, number>();

/** An activity that records its call, then does what the secret's script says (or a plain success). */
function stub(name: keyof Activities, otherwise: (input: Record<string, unknown>) => unknown) {
  return async (input: Record<string, unknown> = {}) => {
    const secretId = String(input.secretId ?? input.planId ?? '');
    calls.push({ name, secretId, input });
    const key = `${secretId}/${name}`;
    const attempt = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, attempt);
    const scripted = scripts.get(secretId)?.[name];
    return scripted ? scripted(input, attempt) : otherwise(input);
  };
}

const FROM = 4;
const activities = {
  beginRotation: stub('beginRotation', (i) => spec(String(i.secretId))),
  precheck: stub('precheck', () => ({ currentVersion: FROM })),
  stageCredential: stub('stageCredential', (i) => ({ pendingPath: `_rotor/pending/${String(i.secretId)}` })),
  applyStaged: stub('applyStaged', () => undefined),
  testStaged: stub('testStaged', () => undefined),
  promote: stub('promote', (i) => ({ promotedVersion: Number(i.expectedVersion) + 1 })),
  notifyConsumer: stub('notifyConsumer', () => undefined),
  postValidate: stub('postValidate', () => undefined),
  rollbackToVersion: stub('rollbackToVersion', (i) => ({ restoredVersion: Number(i.promotedVersion) + 1 })),
  discardStaged: stub('discardStaged', (i) => ({ revoked: Boolean(i.revoke) })),
  revokeVersion: stub('revokeVersion', () => undefined),
  recordRotationEvent: stub('recordRotationEvent', () => undefined),
  loadPlanSpec: stub('loadPlanSpec', () => ({ secrets: ['plan-a', 'plan-b'] })),
  emergencyPrepare: stub('emergencyPrepare', (i) => ({ spec: spec(String(i.secretId)), fromVersion: FROM })),
  emergencyPromote: stub('emergencyPromote', (i) =>
    i.retire
      ? { promotedVersion: Number(i.fromVersion) + 1, retired: true }
      : { promotedVersion: Number(i.fromVersion) + 1, retired: false },
  ),
  emergencyRetire: stub('emergencyRetire', () => ({})),
  // Emergency mode is incident response's alone: these tests run it under a revokeAll parent.
  verifyIdentity: stub('verifyIdentity', () => ({ entityId: 'entity-alice', name: 'alice', groups: ['rotor-incident-responders'] })),
  incidentResponderGroups: stub('incidentResponderGroups', () => ['rotor-incident-responders']),
  resolveIncidentScope: stub('resolveIncidentScope', (i) => ({ secrets: i.secretIds, leasePrefixes: [], grants: [] })),
  startFreeze: stub('startFreeze', () => undefined),
  recordIncidentReport: stub('recordIncidentReport', () => undefined),
};

const names = (secretId: string) => calls.filter((c) => c.secretId === secretId).map((c) => c.name);

let client: Client;
let connection: Connection;
let worker: Worker;
let workerRun: Promise<void>;
const taskQueue = `workflow-paths-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  const file = await readStackFile('test');
  // The stubs fail on purpose: the SDK's warning for each failed activity is noise here.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  worker = await Worker.create({
    connection: await NativeConnection.connect({ address: file.env.ROTOR_TEMPORAL_ADDRESS }),
    taskQueue,
    workflowBundle: { codePath: join(file.stateDir, 'workflow-bundle.js') },
    activities,
  });
  workerRun = worker.run();
  connection = await Connection.connect({ address: file.env.ROTOR_TEMPORAL_ADDRESS });
  client = new Client({ connection });
});

afterAll(async () => {
  worker.shutdown();
  await workerRun;
  await connection.close();
});

function scenario(script: Record<string, Script>): void {
  calls = [];
  attempts.clear();
  scripts = new Map(Object.entries(script));
}

const rotation = (secretId: string) =>
  client.workflow.execute(rotateSecret, {
    taskQueue,
    workflowId: rotationWorkflowId(secretId),
    args: [{ secretId, requestedBy: 'test' }],
  });

describe('rotateSecret', () => {
  it('a failure before promotion discards the staged credential (revoked) and changes no version', async () => {
    const id = `wp-discard-${randomUUID().slice(0, 6)}`;
    scenario({ [id]: { testStaged: () => Promise.reject(nonRetryable('PostgreSQL refused role "app_b"')) } });
    const result = await rotation(id);
    expect(result).toMatchObject({ outcome: 'aborted', failedPhase: 'testing', currentVersion: FROM });
    expect(names(id)).toEqual([
      'beginRotation',
      'precheck',
      'stageCredential',
      'applyStaged',
      'testStaged',
      'discardStaged',
      'recordRotationEvent',
    ]);
    expect(calls.find((c) => c.name === 'discardStaged')?.input.revoke).toBe(true);
  });

  it('a failure after promotion re-promotes the previous version, tells consumers and revokes the staged credential', async () => {
    const id = `wp-rollback-${randomUUID().slice(0, 6)}`;
    scenario({
      [id]: {
        beginRotation: () => spec(id, [webhook('billing')]),
        postValidate: () => Promise.reject(nonRetryable('consumers unhealthy after cutover: billing', 'ConsumerUnhealthy')),
      },
    });
    const result = await rotation(id);
    expect(result).toMatchObject({ outcome: 'rolled_back', fromVersion: FROM, attemptedVersion: 5, restoredVersion: 6 });
    expect(result.outcome === 'rolled_back' && result.failedPhase).toBe('post_validation');
    const after = names(id).slice(names(id).indexOf('promote'));
    expect(after).toEqual([
      'promote',
      'notifyConsumer',
      'postValidate',
      'rollbackToVersion',
      'notifyConsumer',
      'discardStaged',
      'recordRotationEvent',
    ]);
    expect(calls.find((c) => c.name === 'rollbackToVersion')?.input).toMatchObject({ previousVersion: FROM, promotedVersion: 5 });
    expect(calls.filter((c) => c.name === 'notifyConsumer').map((c) => c.input.purpose)).toEqual(['cutover', 'rollback']);
    expect(names(id)).not.toContain('revokeVersion'); // the old credential is never revoked
  });
});

describe('rotatePlan', () => {
  it('one secret failing before promotion aborts the plan: nothing is promoted, both staged credentials are discarded', async () => {
    scenario({ 'plan-b': { applyStaged: () => Promise.reject(nonRetryable('could not set the password')) } });
    const planId = `wp-plan-${randomUUID().slice(0, 6)}`;
    const result = await client.workflow.execute(rotatePlan, { taskQueue, workflowId: planWorkflowId(planId), args: [{ planId }] });
    expect(result.outcome).toBe('aborted');
    expect(result.stoppedAt).toBe('staged');
    expect(result.secrets.map((s) => s.outcome)).toEqual(['aborted', 'aborted']);
    for (const id of ['plan-a', 'plan-b']) {
      expect(names(id)).not.toContain('promote');
      expect(calls.find((c) => c.secretId === id && c.name === 'discardStaged')?.input.revoke).toBe(true);
    }
  });

  it('one secret failing after promotion rolls every promoted secret back', async () => {
    scenario({
      'plan-a': { beginRotation: () => spec('plan-a', [webhook('billing')]) },
      'plan-b': {
        beginRotation: () => spec('plan-b', [webhook('ledger')]),
        notifyConsumer: (i) => (i.purpose === 'cutover' ? Promise.reject(nonRetryable('ledger answered 500', 'NotifyFailed')) : undefined),
      },
    });
    const planId = `wp-plan-${randomUUID().slice(0, 6)}`;
    const result = await client.workflow.execute(rotatePlan, { taskQueue, workflowId: planWorkflowId(planId), args: [{ planId }] });
    expect(result.outcome).toBe('rolled_back');
    expect(result.secrets.map((s) => s.outcome)).toEqual(['rolled_back', 'rolled_back']);
    for (const id of ['plan-a', 'plan-b']) {
      expect(names(id)).toContain('rollbackToVersion');
      expect(names(id)).not.toContain('revokeVersion');
    }
  });
});

describe('emergencyRotate', () => {
  /** The emergency rotation of one secret, started (as only it may be) by a revokeAll. */
  const emergency = async (secretId: string): Promise<RotationResult> => {
    const incidentId = `inc-wp-${randomUUID().slice(0, 6)}`;
    await client.workflow.execute(revokeAll, {
      taskQueue,
      workflowId: incidentWorkflowId(incidentId),
      args: [{ incidentId, reason: 'path test', identity: 'stub-identity-token-verified-by-a-stub', scope: { secretIds: [secretId] } }],
    });
    return client.workflow.getHandle(rotationWorkflowId(secretId)).result() as Promise<RotationResult>;
  };

  it('a consumer that does not confirm is reported, never rolled back for; the old version is retired', async () => {
    const id = `wp-em-${randomUUID().slice(0, 6)}`;
    scenario({
      [id]: {
        emergencyPrepare: () => ({ spec: spec(id, [webhook('billing')]), fromVersion: FROM }),
        notifyConsumer: () => Promise.reject(nonRetryable('billing answered 500', 'NotifyFailed')),
      },
    });
    const result = await emergency(id);
    expect(result).toMatchObject({ outcome: 'rotated', fromVersion: FROM, toVersion: 5 });
    expect(result.outcome === 'rotated' && result.emergencyNote).toMatch(/awaiting_confirmation: consumers did not confirm version 5/);
    expect(names(id)).toEqual(['emergencyPrepare', 'emergencyPromote', 'notifyConsumer', 'emergencyRetire']);
    expect(calls.find((c) => c.name === 'emergencyRetire')?.input).toMatchObject({ version: FROM, validateVersion: 5 });
  });

  it('a retried promotion resumes from the version history holds: pre-checks do not run again', async () => {
    const id = `wp-em-${randomUUID().slice(0, 6)}`;
    scenario({
      [id]: {
        // The first attempt dies after its write (the worker lost the answer); the retry finds its own write.
        emergencyPromote: (i, attempt) =>
          attempt === 1
            ? Promise.reject(ApplicationFailure.retryable('connection reset after the KV write', 'VaultUnavailable'))
            : { promotedVersion: Number(i.fromVersion) + 1, retired: true },
      },
    });
    const result = await emergency(id);
    expect(result).toMatchObject({ outcome: 'rotated', fromVersion: FROM, toVersion: 5 });
    expect(names(id)).toEqual(['emergencyPrepare', 'emergencyPromote', 'emergencyPromote']);
    expect(calls.filter((c) => c.name === 'emergencyPromote').map((c) => c.input.fromVersion)).toEqual([FROM, FROM]);
  });

  it('a failure before promotion discards the staged credential and reports the phase', async () => {
    const id = `wp-em-${randomUUID().slice(0, 6)}`;
    scenario({
      [id]: {
        emergencyPrepare: () =>
          Promise.reject(
            withFailedStep(nonRetryable('could not set the password of role "app_b"'), { phase: 'applying', fromVersion: FROM }),
          ),
      },
    });
    const result = await emergency(id);
    expect(result).toMatchObject({ outcome: 'aborted', failedPhase: 'applying', currentVersion: FROM });
    expect(names(id)).toEqual(['emergencyPrepare', 'discardStaged', 'recordRotationEvent']);
    expect(calls.find((c) => c.name === 'discardStaged')?.input.revoke).toBe(true);
  });

  it('refuses a client, whatever the id: emergency mode belongs to incident response', async () => {
    const id = `wp-em-${randomUUID().slice(0, 6)}`;
    scenario({});
    for (const workflowId of [`other-${id}`, rotationWorkflowId(id)])
      await expect(
        client.workflow.execute(emergencyRotate, { taskQueue, workflowId, args: [{ secretId: id, requestedBy: 'alice' }] }),
      ).rejects.toMatchObject({ cause: { message: expect.stringContaining('emergency mode is started only by incident response') } });
    expect(calls).toEqual([]);
  });
});

export type { RotationRef };

import { WorkflowFailedError, type ApplicationFailure, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VaultClient } from '../../vault/vault-client.js';
import type { BreakGlassStatus } from '../../workflows/break-glass-types.js';
import { FailureType } from '../../workflows/failure-types.js';
import type { IncidentReport } from '../../workflows/incident-types.js';
import { OUTCOME, PHASE } from '../../workflows/search-attributes.js';
import { DEMO_ADMIN_PATH, kvVersion, postgresSecretYaml, seed } from '../helpers/rotation-fixtures.js';
import { decodedHistoryText } from '../helpers/decoded-history.js';
import { failureText } from '../helpers/failure-text.js';
import { identityToken, operatorToken, type OperatorName } from '../helpers/operators.js';
import { canLogin, startTestStack, superuserClient, type TestStack } from '../helpers/test-stack.js';
import { approveUpdate, breakGlassStatusQuery, rotationWorkflowId } from '../../workflows/contracts.js';
import { revokeAll } from '../../workflows/revoke-all.js';
import { breakGlass } from '../../workflows/break-glass.js';

const tagged = (id: string, consumers = '') => postgresSecretYaml(id, consumers).replace('    tags: [test]', '    tags: [test, blast]');
const silent = `      - name: ops\n        confirm: { mode: manual, timeout: 2s }`;
const inventory = `secrets:
${tagged('inc-a')}${tagged('inc-b', silent)}${postgresSecretYaml('inc-c')}${tagged('inc-down').replace(DEMO_ADMIN_PATH, '_rotor/admin/down-postgres')}
breakGlass:
  - id: inc-bg
    secretId: inc-a
    requesterGroups: [rotor-breakglass-requesters]
    approverGroups: [rotor-breakglass-approvers]
    approvals: 1
    rotateAfter: false
`;

describe('revokeAll: incident response against the real stack', () => {
  let stack: TestStack;
  let grant: { handle: WorkflowHandle; username: string; password: string; prefix: string };

  beforeAll(async () => {
    stack = await startTestStack('incident', inventory);
    for (const id of ['inc-a', 'inc-b', 'inc-c']) expect(await seed(stack, id)).toBe(1);
    // A target that is down: its admin credential points at a port where nothing listens.
    const admin = (await stack.rootVault.kvRead<Record<string, string>>('rotor', DEMO_ADMIN_PATH))!.data;
    await stack.rootVault.kvWrite('rotor', '_rotor/admin/down-postgres', { ...admin, port: '1' });
    await stack.rootVault.kvWrite('rotor', 'apps/inc-down', {
      username: 'inc_down_a',
      password: 'not-a-real-password-0001',
      host: admin.host!,
      port: '1',
      database: 'demo',
    });

    const handle = await stack.client.workflow.start(breakGlass, {
      taskQueue: stack.taskQueue,
      workflowId: `break-glass/inc-bg/${Date.now()}`,
      args: [
        {
          policyId: 'inc-bg',
          identity: await identityToken(stack.file, 'alice'),
          justification: 'debugging before the incident',
          ttl: '30m',
        },
      ],
    });
    let status: BreakGlassStatus | undefined;
    for (let i = 0; i < 100 && !(status = await handle.query(breakGlassStatusQuery)).open; i++) await new Promise((r) => setTimeout(r, 50));
    await handle.executeUpdate(approveUpdate, { args: [{ identity: await identityToken(stack.file, 'carol') }] });
    for (let i = 0; i < 100 && (status = await handle.query(breakGlassStatusQuery)).phase !== 'granted'; i++)
      await new Promise((r) => setTimeout(r, 100));
    // Alice reads her grant with her own Vault token, where only she can.
    const cred = (await new VaultClient(stack.env.ROTOR_VAULT_ADDR, await operatorToken(stack.file, 'alice')).kvRead<{
      username: string;
      password: string;
    }>(stack.env.ROTOR_VAULT_KV_MOUNT, status!.grant!.deliveredTo!))!.data;
    grant = { handle, ...cred, prefix: `${status!.grant!.leaseId.split('/').slice(0, 3).join('/')}/` };
    expect(await canLogin(stack.file, cred.username, cred.password)).toBe(true);
  });

  afterAll(async () => {
    const su = await superuserClient(stack.file, 'rotor');
    await su.query(
      "UPDATE incident_freeze SET lifted_at = now(), lifted_by = 'test-cleanup' WHERE incident_id LIKE 'inc-test-%' AND lifted_at IS NULL",
    );
    await su.end();
    await stack?.close();
  });

  const run = async (incidentId: string, extra: Record<string, unknown> = {}, responder: OperatorName = 'alice') =>
    stack.client.workflow.execute(revokeAll, {
      taskQueue: stack.taskQueue,
      workflowId: `incident/${incidentId}`,
      args: [
        {
          incidentId,
          reason: 'CI runner compromised',
          identity: await identityToken(stack.file, responder),
          scope: { tags: ['blast'], leasePrefixes: [grant.prefix] },
          freeze: 'in-scope',
          concurrency: 2,
          ...extra,
        },
      ],
    }) as Promise<IncidentReport>;

  it('only a verified incident responder starts incident response: anyone else, or a declared name, freezes and revokes nothing', async () => {
    const refused = async (p: Promise<unknown>) => {
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      return (err as WorkflowFailedError).cause as ApplicationFailure;
    };
    const bob = await refused(run('inc-test-bob', {}, 'bob'));
    expect(bob.message).toMatch(
      /bob may not start incident response \(revokeAll inc-test-bob\): not in the identity group rotor-incident-responders/,
    );
    expect(bob.type).toBe(FailureType.NotInGroup);
    const declared = await refused(
      stack.client.workflow.execute(revokeAll, {
        taskQueue: stack.taskQueue,
        workflowId: 'incident/inc-test-declared',
        args: [{ incidentId: 'inc-test-declared', reason: 'CI runner compromised', requestedBy: 'alice', scope: { tags: ['blast'] } }],
      }),
    );
    expect(declared.message).toMatch(/^identity: required/);
    expect(declared.type).toBe(FailureType.IdentityRefused);
    for (const id of ['inc-a', 'inc-b', 'inc-c']) expect((await kvVersion(stack, id)).version).toBe(1);
    expect(await canLogin(stack.file, grant.username, grant.password)).toBe(true);
    const su = await superuserClient(stack.file, 'rotor');
    try {
      expect((await su.query("SELECT 1 FROM incident_freeze WHERE incident_id IN ('inc-test-bob', 'inc-test-declared')")).rowCount).toBe(0);
    } finally {
      await su.end();
    }
  });

  it('a dry run lists exactly what would be revoked and rotated, and changes nothing', async () => {
    const report = await run('inc-test-dry', { dryRun: true });
    expect(report.dryRun).toBe(true);
    expect(report.requestedBy).toBe('alice'); // the verified responder
    expect(report.secrets.map((s) => [s.secretId, s.status])).toEqual([
      ['inc-a', 'planned'],
      ['inc-b', 'planned'],
      ['inc-down', 'planned'],
    ]);
    expect(report.leases).toEqual([expect.objectContaining({ prefix: grant.prefix, leasesBefore: 1, status: 'planned' })]);
    expect(report.grants.map((g) => g.workflowId)).toEqual([grant.handle.workflowId]);
    for (const id of ['inc-a', 'inc-b', 'inc-c']) expect((await kvVersion(stack, id)).version).toBe(1);
    expect(await canLogin(stack.file, grant.username, grant.password)).toBe(true);
    const su = await superuserClient(stack.file, 'rotor');
    try {
      expect((await su.query("SELECT 1 FROM incident_freeze WHERE incident_id = 'inc-test-dry'")).rowCount).toBe(0);
    } finally {
      await su.end();
    }
  });

  it('revokes the grant and leases, rotates every secret in scope, reports the one whose target is down, and leaves the rest alone', async () => {
    const before = Object.fromEntries(
      await Promise.all(['inc-a', 'inc-b', 'inc-c'].map(async (id) => [id, await kvVersion(stack, id)] as const)),
    );
    const report = await run('inc-test-1');
    expect(report.requestedBy).toBe('alice');
    const byId = Object.fromEntries(report.secrets.map((s) => [s.secretId, s]));
    expect(byId['inc-a']).toMatchObject({ status: 'done', outcome: 'rotated', fromVersion: 1, toVersion: 2 });
    expect(byId['inc-b']).toMatchObject({ status: 'done', outcome: 'rotated', reason: expect.stringMatching(/ops/) }); // reported, not waited for
    expect(byId['inc-down']).toMatchObject({ status: 'failed' });
    expect(byId['inc-down']!.reason).toBeTruthy();
    expect(report.leases[0], JSON.stringify(report.leases[0])).toMatchObject({ status: 'done', verified: true, forced: false });
    expect(report.grants[0]).toMatchObject({ status: 'done' });
    expect(report.summary).toMatchObject({ failed: 1, planned: 0 });
    for (const s of report.secrets) expect(s.durationMs).toBeGreaterThan(0);

    expect(await canLogin(stack.file, grant.username, grant.password)).toBe(false);
    for (const id of ['inc-a', 'inc-b']) {
      const now = await kvVersion(stack, id);
      expect(now.version).toBe(2);
      expect(await canLogin(stack.file, now.data.username, now.data.password)).toBe(true);
      expect(await canLogin(stack.file, before[id]!.data.username, before[id]!.data.password)).toBe(false);
    }
    expect((await kvVersion(stack, 'inc-c')).version).toBe(1); // outside the scope
    expect(await canLogin(stack.file, before['inc-c']!.data.username, before['inc-c']!.data.password)).toBe(true);
    // The UI lists each finished child at phase done with its outcome, not at the phase it started in.
    const listed = (await stack.client.workflow.getHandle('rotate/inc-a').describe()).typedSearchAttributes;
    expect([listed.get(PHASE), listed.get(OUTCOME)]).toEqual(['done', 'rotated']);

    const su = await superuserClient(stack.file, 'rotor');
    try {
      const rows = await su.query("SELECT step, outcome FROM audit_log WHERE detail->>'incidentId' = 'inc-test-1'");
      expect(rows.rows.map((r) => r.step)).toEqual(
        expect.arrayContaining(['incident_freeze', 'incident_rotate', 'incident_leases', 'incident_end_grant', 'incident_report']),
      );
      // No credential value, old or new, in the incident's or a rotation's history, the logs or audit rows.
      const values: string[] = [];
      for (const id of ['inc-a', 'inc-b']) values.push(before[id]!.data.password, (await kvVersion(stack, id)).data.password);
      const texts = [stack.logLines.join('\n'), JSON.stringify(report)];
      for (const id of ['incident/inc-test-1', 'rotate/inc-a', 'rotate/inc-b', 'rotate/inc-down'])
        texts.push(await decodedHistoryText(stack.client, id, stack.env.ROTOR_CODEC_KEY));
      texts.push(JSON.stringify((await su.query("SELECT * FROM audit_log WHERE secret_id LIKE 'inc-%'")).rows));
      const haystack = texts.join('\n');
      expect(haystack).toContain('emergencyPrepare'); // the scan sees the batched steps
      // Promotion is a step of its own; with no consumer to wait for, it retired the old version
      // too; a secret with a consumer waits for it between promotion and retirement.
      const activityTypes = async (id: string) =>
        (await decodedHistoryText(stack.client, rotationWorkflowId(id), stack.env.ROTOR_CODEC_KEY)).match(
          /emergency(Cutover|Prepare|Promote|Retire)/g,
        );
      expect(new Set(await activityTypes('inc-a'))).toEqual(new Set(['emergencyPrepare', 'emergencyPromote']));
      expect(new Set(await activityTypes('inc-b'))).toEqual(new Set(['emergencyPrepare', 'emergencyPromote', 'emergencyRetire']));
      for (const value of values) expect(haystack.includes(value), 'a secret value leaked').toBe(false);
      // Batched into one activity, an emergency rotation still leaves one audit row per step.
      const steps = await su.query<{ step: string; outcome: string }>(
        "SELECT step, outcome FROM audit_log WHERE workflow_id = 'rotate/inc-a' ORDER BY seq",
      );
      expect(steps.rows.map((r) => `${r.step}:${r.outcome}`)).toEqual([
        'rotation_started:started',
        'precheck:succeeded',
        'stage:succeeded',
        'apply:succeeded',
        'test:succeeded',
        'promote:succeeded',
        'post_validate:succeeded',
        'revoke:succeeded',
        'cleanup_staged:succeeded',
        'rotation_finished:succeeded',
      ]);
    } finally {
      await su.end();
    }
  });

  it('the freeze refuses a break-glass request; only another incident responder lifts it, with the unfreeze workflow', async () => {
    const request = async () =>
      stack.client.workflow.execute(breakGlass, {
        taskQueue: stack.taskQueue,
        workflowId: `break-glass/inc-bg/after-${Date.now()}`,
        args: [
          {
            policyId: 'inc-bg',
            identity: await identityToken(stack.file, 'alice'),
            justification: 'after the incident, still need access',
            ttl: '5m',
          },
        ],
      });
    expect(await request()).toMatchObject({ outcome: 'refused', reason: expect.stringMatching(/incident inc-test-1 froze new grants/) });
    const unfreeze = async (by: OperatorName) =>
      stack.client.workflow.execute('unfreeze', {
        taskQueue: stack.taskQueue,
        workflowId: `unfreeze/inc-test-1/${by}`,
        args: [{ incidentId: 'inc-test-1', identity: await identityToken(stack.file, by) }],
      });
    const self = await unfreeze('alice').catch((e: unknown) => e);
    expect(self).toBeInstanceOf(WorkflowFailedError);
    expect(failureText(self)).toMatch(/alice started incident inc-test-1 and may not lift its freeze/);
    // A second person, but not an incident responder: refused too, and the freeze holds.
    const bob = await unfreeze('bob').catch((e: unknown) => e);
    expect(bob).toBeInstanceOf(WorkflowFailedError);
    expect(failureText(bob)).toMatch(
      /bob may not lift the freeze of incident inc-test-1: not in the identity group rotor-incident-responders/,
    );
    expect(await request()).toMatchObject({ outcome: 'refused', reason: expect.stringMatching(/incident inc-test-1 froze new grants/) });
    expect(await unfreeze('carol')).toEqual({ incidentId: 'inc-test-1', liftedBy: 'carol' });
    const handle = await stack.client.workflow.start(breakGlass, {
      taskQueue: stack.taskQueue,
      workflowId: `break-glass/inc-bg/lifted-${Date.now()}`,
      args: [
        {
          policyId: 'inc-bg',
          identity: await identityToken(stack.file, 'alice'),
          justification: 'after the incident, still need access',
          ttl: '5m',
        },
      ],
    });
    for (let i = 0; i < 100 && !(await handle.query(breakGlassStatusQuery)).open; i++) await new Promise((r) => setTimeout(r, 50));
    if (!(await handle.query(breakGlassStatusQuery)).open)
      throw new Error(`the request after the lift did not open: ${await handle.result().then(JSON.stringify, failureText)}`);
    expect((await handle.query(breakGlassStatusQuery)).phase).toBe('awaiting_approval'); // no longer refused
    await handle.executeUpdate('deny', { args: [{ identity: await identityToken(stack.file, 'carol'), comment: 'not needed any more' }] });
    expect(await handle.result()).toMatchObject({ outcome: 'denied' });
  });
});

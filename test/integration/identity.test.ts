import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VaultClient } from '../../vault/vault-client.js';
import { VaultRequestError } from '../../vault/vault-error.js';
import {
  approveUpdate,
  breakGlassStatusQuery,
  denyUpdate,
  endForIncidentUpdate,
  incidentWorkflowId,
  rotationWorkflowId,
  statusQuery,
} from '../../workflows/contracts.js';
import { breakGlass } from '../../workflows/break-glass.js';
import { emergencyRotate } from '../../workflows/emergency-rotate.js';
import { revokeAll } from '../../workflows/revoke-all.js';
import { rotateSecret } from '../../workflows/rotate-secret.js';
import { decodedHistoryText } from '../helpers/decoded-history.js';
import { identityToken, operatorToken } from '../helpers/operators.js';
import { DEMO_ADMIN_PATH, kvVersion, postgresSecretYaml, seed } from '../helpers/rotation-fixtures.js';
import { cliEnv, runCli } from '../helpers/run-cli.js';
import { canLogin, startTestStack, type TestStack } from '../helpers/test-stack.js';

/** Invariant identity-is-proven: who acts is what Vault proves, never a name in a payload. */
describe('identity: operators prove who they are', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack(
      'identity',
      `secrets:
${postgresSecretYaml('id-db')}${postgresSecretYaml('id-manual-db', '      - name: ops\n        confirm: { mode: manual, timeout: 2m }')}
breakGlass:
  - id: id-ops
    secretId: id-db
    requesterGroups: [rotor-breakglass-requesters]
    approverGroups: [rotor-breakglass-approvers]
    approvals: 2
    maxTtl: 1h
    approvalTimeout: 2m
    rotateAfter: false
`,
    );
    expect(await seed(stack, 'id-db')).toBe(1);
    expect(await seed(stack, 'id-manual-db')).toBe(1);
  });

  afterAll(async () => {
    await stack?.close();
  });

  const refusal = async (p: Promise<unknown>): Promise<string> => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    return String(((err as Error).cause as Error | undefined)?.message);
  };

  const request = async (ttl = '10m'): Promise<WorkflowHandle<typeof breakGlass>> => {
    const handle = await stack.client.workflow.start(breakGlass, {
      taskQueue: stack.taskQueue,
      workflowId: `break-glass/id-ops/${Date.now()}`,
      args: [{ policyId: 'id-ops', identity: await identityToken(stack.file, 'alice'), justification: 'inspect the stuck payments', ttl }],
    });
    for (let i = 0; i < 100 && !(await handle.query(breakGlassStatusQuery).catch(() => undefined))?.open; i++)
      await new Promise((r) => setTimeout(r, 50));
    return handle;
  };

  it('a declared name, a forged token and a token replayed from history change nothing; one person counts once', async () => {
    const handle = await request();
    expect((await handle.query(breakGlassStatusQuery)).requester).toBe('alice');
    const approvals = async () => (await handle.query(breakGlassStatusQuery)).approvals;

    // A name without a proof.
    expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ approver: 'carol' }] }))).toMatch(/identity: required/);
    // A real token of carol's with its claims rewritten (to dave) no longer verifies.
    const carol = await identityToken(stack.file, 'carol');
    const [header, claims, signature] = carol.split('.') as [string, string, string];
    const asDave = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(claims, 'base64url').toString()), username: 'dave' })).toString(
      'base64url',
    );
    expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ identity: `${header}.${asDave}.${signature}` }] }))).toMatch(
      /signature does not verify/,
    );
    // The requester cannot approve her own request, a non-approver cannot approve.
    expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ identity: await identityToken(stack.file, 'alice') }] }))).toMatch(
      /requested this access/,
    );
    expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ identity: await identityToken(stack.file, 'bob') }] }))).toMatch(
      /not in the identity group rotor-breakglass-approvers/,
    );
    expect(await approvals()).toEqual([]);

    // carol approves once; a second token of carol's does not make two approvals.
    await handle.executeUpdate(approveUpdate, { args: [{ identity: carol }] });
    expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ identity: await identityToken(stack.file, 'carol') }] }))).toMatch(
      /already approved/,
    );
    // Anyone with the codec key can read carol's token out of history: it is refused as used.
    const history = await decodedHistoryText(stack.client, handle.workflowId, stack.env.ROTOR_CODEC_KEY);
    expect(history).toContain(carol);
    expect(await refusal(handle.executeUpdate(denyUpdate, { args: [{ identity: carol, comment: 'replayed by someone else' }] }))).toMatch(
      /already used/,
    );
    expect(await approvals()).toEqual([expect.objectContaining({ approver: 'carol' })]);
    expect((await handle.query(breakGlassStatusQuery)).denial).toBeUndefined();
    // Naming an incident is no proof either: only one whose freeze is active ends a request.
    expect(await refusal(handle.executeUpdate(endForIncidentUpdate, { args: [{ incidentId: 'made-up' }] }))).toMatch(
      /incident made-up has no active freeze/,
    );
    expect((await handle.query(breakGlassStatusQuery)).denial).toBeUndefined();

    // The audit log names the verified people and never holds a token.
    const pool = new (await import('pg')).default.Pool({ connectionString: stack.env.ROTOR_DATABASE_URL, max: 1 });
    try {
      const rows = await pool.query<{ actor: string; step: string; detail: unknown }>(
        `SELECT actor, step, detail FROM audit_log WHERE workflow_id = $1 ORDER BY seq`,
        [handle.workflowId],
      );
      expect(rows.rows.filter((r) => r.step === 'break_glass_approved').map((r) => r.actor)).toEqual(['carol']);
      expect(JSON.stringify(rows.rows)).not.toContain(carol.split('.')[2]!);
    } finally {
      await pool.end();
    }
    await handle.terminate('test done');
  });

  it("the grant reaches only its requester: nothing in history or a query opens it, another operator's token is refused", async () => {
    const handle = await request();
    await handle.executeUpdate(approveUpdate, { args: [{ identity: await identityToken(stack.file, 'carol') }] });
    await handle.executeUpdate(approveUpdate, { args: [{ identity: await identityToken(stack.file, 'dave') }] });
    let status = await handle.query(breakGlassStatusQuery);
    for (let i = 0; i < 100 && status.phase !== 'granted'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await handle.query(breakGlassStatusQuery);
    }
    expect(status.grant).toMatchObject({ deliveredTo: expect.stringMatching(/^_rotor\/grants\//) });
    expect(status.grant).not.toHaveProperty('wrapToken');

    // dave approved it, and holds the codec key and the query result: still no access.
    const dave = new VaultClient(stack.env.ROTOR_VAULT_ADDR, await operatorToken(stack.file, 'dave'));
    const stolen = await dave.kvRead(stack.env.ROTOR_VAULT_KV_MOUNT, status.grant!.deliveredTo!).catch((e: unknown) => e);
    expect(stolen).toBeInstanceOf(VaultRequestError);
    expect((stolen as VaultRequestError).status).toBe(403);

    // alice reads it with her own login through the CLI, and it logs in.
    const run = await runCli(['break-glass', 'credentials', handle.workflowId, '--json'], { env: await cliEnv(stack, 'alice') });
    expect(run.stderr).toBe('');
    const cred = JSON.parse(run.stdout) as { username: string; password: string };
    expect(await canLogin(stack.file, cred.username, cred.password)).toBe(true);
    const history = await decodedHistoryText(stack.client, handle.workflowId, stack.env.ROTOR_CODEC_KEY);
    expect(history).not.toContain(cred.password);
    expect(JSON.stringify(await handle.query(breakGlassStatusQuery))).not.toContain(cred.password);

    // bob's CLI is told why; revoking removes the delivered copy with the role.
    const bobRun = await runCli(['break-glass', 'credentials', handle.workflowId], { env: await cliEnv(stack, 'bob') });
    expect(bobRun.code).toBe(1);
    expect(bobRun.stderr).toMatch(/only its requester \(alice\) can read it/);
    await runCli(['break-glass', 'revoke', handle.workflowId], { env: await cliEnv(stack, 'alice') });
    expect(await handle.result()).toMatchObject({ outcome: 'revoked', revokedBy: 'alice' });
    expect(await canLogin(stack.file, cred.username, cred.password)).toBe(false);
    expect(await stack.rootVault.kvMetadata(stack.env.ROTOR_VAULT_KV_MOUNT, status.grant!.deliveredTo!)).toBeUndefined();
  });

  it("an operator's token runs status, rotate and confirm, but reads no secret value and no admin credential", async () => {
    const env = await cliEnv(stack, 'bob');
    for (const key of ['ROTOR_VAULT_SECRET_ID', 'ROTOR_VAULT_ROLE_ID', 'ROTOR_DATABASE_URL', 'ROTOR_CODEC_KEY'])
      expect(env[key]).toBeUndefined();
    const status = await runCli(['status', '--json'], { env });
    expect(status.stderr).toBe('');
    expect(JSON.parse(status.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'id-manual-db', currentVersion: 1 })]));

    const started = await runCli(['rotate', 'id-manual-db'], { env });
    expect(started.code).toBe(0);
    const handle = stack.client.workflow.getHandle(rotationWorkflowId('id-manual-db'));
    for (let i = 0; i < 200 && (await handle.query(statusQuery).catch(() => undefined))?.phase !== 'awaiting_confirmation'; i++)
      await new Promise((r) => setTimeout(r, 100));
    const confirmed = await runCli(['confirm', 'id-manual-db', 'ops'], { env });
    expect(confirmed.stdout).toMatch(/by bob/);
    expect(await handle.result()).toMatchObject({ outcome: 'rotated', toVersion: 2 });

    const bob = new VaultClient(stack.env.ROTOR_VAULT_ADDR, await operatorToken(stack.file, 'bob'));
    for (const path of ['apps/id-manual-db', DEMO_ADMIN_PATH]) {
      const read = await bob.kvRead(stack.env.ROTOR_VAULT_KV_MOUNT, path).catch((e: unknown) => e);
      expect((read as VaultRequestError).status).toBe(403);
    }
    // ...while the versions it may see are the ones the rotation wrote.
    expect((await bob.kvMetadata(stack.env.ROTOR_VAULT_KV_MOUNT, 'apps/id-manual-db'))?.current_version).toBe(2);
  });

  it('emergency mode from a client is refused before any step; revokeAll only for a verified incident responder', async () => {
    const before = await kvVersion(stack, 'id-db');
    const fails = async (p: Promise<unknown>) => {
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      return String(((err as Error).cause as Error | undefined)?.message);
    };
    expect(
      await fails(
        stack.client.workflow.execute(rotateSecret, {
          taskQueue: stack.taskQueue,
          workflowId: rotationWorkflowId('id-db'),
          args: [{ secretId: 'id-db', emergency: true }],
        }),
      ),
    ).toMatch(/emergency mode is started only by incident response/);
    expect(
      await fails(
        stack.client.workflow.execute(emergencyRotate, {
          taskQueue: stack.taskQueue,
          workflowId: rotationWorkflowId('id-db'),
          args: [{ secretId: 'id-db', requestedBy: 'mallory' }],
        }),
      ),
    ).toMatch(/emergency mode is started only by incident response/);
    expect((await kvVersion(stack, 'id-db')).version).toBe(before.version);
    expect(await canLogin(stack.file, before.data.username, before.data.password)).toBe(true);

    // bob is no incident responder; a declared requestedBy is no identity at all.
    const incident = (identity?: string, incidentId = `inc-id-${Date.now()}`) =>
      stack.client.workflow.execute(revokeAll, {
        taskQueue: stack.taskQueue,
        workflowId: incidentWorkflowId(incidentId),
        args: [
          {
            incidentId,
            reason: 'suspected leak',
            requestedBy: 'carol',
            scope: { secretIds: ['id-db'] },
            ...(identity ? { identity } : {}),
          },
        ],
      });
    expect(await fails(incident())).toMatch(/identity: required/);
    expect(await fails(incident(await identityToken(stack.file, 'bob')))).toMatch(/not in the identity group rotor-incident-responders/);
    const pool = new (await import('pg')).default.Pool({ connectionString: stack.env.ROTOR_DATABASE_URL, max: 1 });
    try {
      expect((await pool.query(`SELECT 1 FROM incident_freeze WHERE incident_id LIKE 'inc-id-%'`)).rowCount).toBe(0);
    } finally {
      await pool.end();
    }
    expect((await kvVersion(stack, 'id-db')).version).toBe(before.version);
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VaultClient } from '../../vault/vault-client.js';
import { VaultRequestError } from '../../vault/vault-error.js';
import type { BreakGlassResult } from '../../workflows/break-glass-types.js';
import { FailureType } from '../../workflows/failure-types.js';
import { decodedHistoryText } from '../helpers/decoded-history.js';
import { identityToken, operatorToken, type OperatorName } from '../helpers/operators.js';
import { postgresSecretYaml, seed } from '../helpers/rotation-fixtures.js';
import { canLogin, startTestStack, superuserClient, type TestStack } from '../helpers/test-stack.js';
import { approveUpdate, breakGlassStatusQuery } from '../../workflows/contracts.js';
import { breakGlass } from '../../workflows/break-glass.js';

interface Delivered {
  username: string;
  password: string;
}

describe('breakGlass: approved, short-lived, revoked and verified', () => {
  let stack: TestStack;
  let notifier: Server;
  const notices: Record<string, unknown>[] = [];
  const leaked = new Set<string>();
  const workflowIds: string[] = [];

  beforeAll(async () => {
    notifier = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        notices.push(JSON.parse(body) as Record<string, unknown>);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => notifier.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(notifier.address() as AddressInfo).port}/notify`;
    stack = await startTestStack(
      'breakglass',
      `secrets:
${postgresSecretYaml('bg-db')}${postgresSecretYaml('bg-frozen-db')}
breakGlass:
  - id: bg-ops
    secretId: bg-db
    requesterGroups: [rotor-breakglass-requesters]
    approverGroups: [rotor-breakglass-approvers]
    approvals: 2
    maxTtl: 1h
    approvalTimeout: 1m
    rotateAfter: true
    notifyUrl: ${url}
  - id: bg-short
    secretId: bg-db
    requesterGroups: [rotor-breakglass-requesters]
    approverGroups: [rotor-breakglass-approvers]
    approvals: 1
    maxTtl: 10s
    approvalTimeout: 2s
    rotateAfter: false
  - id: bg-frozen
    secretId: bg-frozen-db
    requesterGroups: [rotor-breakglass-requesters]
    approverGroups: [rotor-breakglass-approvers]
    approvals: 1
`,
    );
    expect(await seed(stack, 'bg-db')).toBe(1);
    expect(await seed(stack, 'bg-frozen-db')).toBe(1);
  });

  afterAll(async () => {
    await stack?.close();
    await new Promise<void>((r) => notifier.close(() => r()));
  });

  const request = async (policyId: string, ttl: string, requester: OperatorName = 'alice'): Promise<WorkflowHandle> => {
    const workflowId = `break-glass/${policyId}/${Date.now()}`;
    workflowIds.push(workflowId);
    const handle = await stack.client.workflow.start(breakGlass, {
      taskQueue: stack.taskQueue,
      workflowId,
      args: [
        {
          policyId,
          identity: await identityToken(stack.file, requester),
          justification: 'payments are failing, need to inspect locks',
          ttl,
        },
      ],
    });
    // Approvers can decide once the request is open (requester verified, policy loaded, request audited).
    for (let i = 0; i < 100; i++) {
      const s = await statusOf(handle).catch(() => undefined);
      if (s?.open || s?.phase === 'done') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return handle;
  };
  const statusOf = (h: WorkflowHandle) => h.query(breakGlassStatusQuery);
  /** The failure an update was refused with (its message and FailureType). */
  const refusal = async (p: Promise<unknown>): Promise<ApplicationFailure> => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (err as Error).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    return cause as ApplicationFailure;
  };
  /** Reads the grant where it was delivered, with `reader`'s own Vault token (as `rotor break-glass credentials` does). */
  const readGrant = async (h: WorkflowHandle, reader: OperatorName): Promise<Delivered | undefined> => {
    const { grant } = await statusOf(h);
    const vault = new VaultClient(stack.env.ROTOR_VAULT_ADDR, await operatorToken(stack.file, reader));
    return (await vault.kvRead<Delivered>(stack.env.ROTOR_VAULT_KV_MOUNT, grant!.deliveredTo!))?.data;
  };
  const credentials = async (h: WorkflowHandle, requester: OperatorName = 'alice'): Promise<Delivered> => {
    for (let i = 0; i < 100 && (await statusOf(h)).phase !== 'granted'; i++) await new Promise((r) => setTimeout(r, 100));
    const { grant } = await statusOf(h);
    expect(grant?.deliveredTo, 'the grant is delivered to a path, not handed out in history').toBeTruthy();
    expect(grant).not.toHaveProperty('wrapToken');
    const cred = (await readGrant(h, requester))!;
    leaked.add(cred.password);
    return cred;
  };

  it('two of three distinct approvers grant a credential that logs in; it is refused after revocation, and the secret is rotated', async () => {
    const h = await request('bg-ops', '1h');
    expect((await statusOf(h)).requester).toBe('alice'); // the verified name, not a declared one
    const approve = async (approver: OperatorName, identity?: string) =>
      h.executeUpdate(approveUpdate, { args: [{ identity: identity ?? (await identityToken(stack.file, approver)) }] });
    const self = await refusal(approve('alice'));
    expect(self.message).toMatch(/alice requested this access and cannot decide on it/);
    expect(self.type).toBe(FailureType.SelfApproval);
    const outsider = await refusal(approve('bob'));
    expect(outsider.message).toMatch(/bob may not decide on requests under bg-ops: not in the identity group rotor-breakglass-approvers/);
    expect(outsider.type).toBe(FailureType.NotInGroup);
    // A name is no proof: an approval without a token is refused before anything runs.
    const declared = await refusal(h.executeUpdate(approveUpdate, { args: [{ approver: 'carol' }] }));
    expect(declared.message).toMatch(/^identity: required/);
    const carolsToken = await identityToken(stack.file, 'carol');
    await approve('carol', carolsToken);
    const twice = await refusal(approve('carol'));
    expect(twice.message).toMatch(/carol already approved this request/);
    expect(twice.type).toBe(FailureType.DuplicateApproval);
    // Carol's token, copied out of history, does not approve as anyone else (nor as carol again).
    expect((await refusal(approve('dave', carolsToken))).message).toMatch(/already used/);
    expect((await statusOf(h)).grant).toBeUndefined(); // one approval is not enough
    await approve('dave');
    expect((await refusal(approve('erin'))).message).toMatch(/already decided/);
    expect((await statusOf(h)).approvals.map((a) => a.approver)).toEqual(['carol', 'dave']);

    const cred = await credentials(h);
    expect(await canLogin(stack.file, cred.username, cred.password)).toBe(true);
    // Only the requester's own Vault identity reads the grant: an approver or another requester who read history cannot.
    for (const other of ['carol', 'bob'] as const) {
      const err = await readGrant(h, other).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, `${other} read alice's grant`).toBeInstanceOf(VaultRequestError);
      expect((err as VaultRequestError).status).toBe(403);
    }
    expect(
      notices.some(
        (n) => n.policyId === 'bg-ops' && n.requester === 'alice' && (n.approverGroups as string[]).includes('rotor-breakglass-approvers'),
      ),
    ).toBe(true);

    const revokeAs = async (user: OperatorName) =>
      h.executeUpdate('revoke', { args: [{ identity: await identityToken(stack.file, user) }] });
    expect((await refusal(revokeAs('bob'))).message).toMatch(/only the requester or an approver/);
    expect((await refusal(h.executeUpdate('revoke', { args: [{ by: 'alice' }] }))).message).toMatch(/^identity: required/);
    await revokeAs('alice');
    const result = (await h.result()) as BreakGlassResult;
    expect(result).toMatchObject({ outcome: 'revoked', revokedBy: 'alice', username: cred.username, rotation: 'rotated' });
    expect(await canLogin(stack.file, cred.username, cred.password)).toBe(false);
    // The delivered copy went with the role.
    expect(await readGrant(h, 'alice')).toBeUndefined();
    const su = await superuserClient(stack.file, 'demo');
    try {
      expect((await su.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [cred.username])).rowCount).toBe(0);
    } finally {
      await su.end();
    }
  });

  it('a grant ends by itself at its TTL and is verified gone', async () => {
    const h = await request('bg-short', '3s');
    await h.executeUpdate(approveUpdate, { args: [{ identity: await identityToken(stack.file, 'carol') }] });
    const cred = await credentials(h);
    expect(await canLogin(stack.file, cred.username, cred.password)).toBe(true);
    expect(await h.result()).toMatchObject({ outcome: 'revoked', revokedBy: 'ttl' });
    expect(await canLogin(stack.file, cred.username, cred.password)).toBe(false);
  });

  it('a denial or no decision in time ends without a grant; a TTL over the policy maximum is refused', async () => {
    const denied = await request('bg-ops', '30m', 'bob');
    await denied.executeUpdate('deny', {
      args: [{ identity: await identityToken(stack.file, 'erin'), comment: 'use the read replica instead' }],
    });
    expect(await denied.result()).toMatchObject({ outcome: 'denied', deniedBy: 'erin', reason: 'use the read replica instead' });
    expect((await statusOf(denied)).requester).toBe('bob');
    expect((await statusOf(denied)).grant).toBeUndefined();

    const expired = await request('bg-short', '5s');
    expect(await expired.result()).toMatchObject({ outcome: 'expired', approvals: 0, required: 1 });
    expect((await statusOf(expired)).grant).toBeUndefined();

    const tooLong = await request('bg-short', '1h');
    expect(await tooLong.result()).toMatchObject({
      outcome: 'refused',
      reason: expect.stringMatching(/exceeds the policy's maximum of 10s/),
    });

    // Who may request is a verified group membership: carol approves, she does not request.
    const outsider = await request('bg-ops', '30m', 'carol');
    expect(await outsider.result()).toMatchObject({
      outcome: 'refused',
      reason: expect.stringMatching(
        /carol may not request break-glass access under bg-ops \(requester groups: rotor-breakglass-requesters\)/,
      ),
    });
  });

  it('an incident freeze refuses new grants with its reason', async () => {
    const su = await superuserClient(stack.file, 'rotor');
    try {
      await su.query(
        "INSERT INTO incident_freeze (incident_id, reason, started_by, secret_ids) VALUES ('inc-bg-test', 'CI runner compromised', 'test', ARRAY['bg-frozen-db'])",
      );
      const h = await request('bg-frozen', '5m');
      expect(await h.result()).toMatchObject({
        outcome: 'refused',
        reason: expect.stringMatching(/incident inc-bg-test froze new grants: CI runner compromised/),
      });
      expect((await statusOf(h)).grant).toBeUndefined();
    } finally {
      await su.query("UPDATE incident_freeze SET lifted_at = now(), lifted_by = 'test' WHERE incident_id = 'inc-bg-test'");
      await su.end();
    }
  });

  it("the credential's value never appears in history, logs or audit rows", async () => {
    expect(leaked.size).toBe(2);
    const texts = [stack.logLines.join('\n')];
    for (const id of workflowIds) texts.push(await decodedHistoryText(stack.client, id, stack.env.ROTOR_CODEC_KEY));
    const su = await superuserClient(stack.file, 'rotor');
    try {
      const rows = await su.query("SELECT * FROM audit_log WHERE step LIKE 'break_glass%'");
      expect(rows.rowCount).toBeGreaterThan(8);
      texts.push(JSON.stringify(rows.rows));
    } finally {
      await su.end();
    }
    const haystack = texts.join('\n');
    expect(haystack).toContain('break_glass_grant');
    for (const value of leaked) expect(haystack.includes(value), 'a break-glass password leaked').toBe(false);
  });
});

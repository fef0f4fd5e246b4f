import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VaultClient } from '../../vault/vault-client.js';
import type { BreakGlassResult } from '../../workflows/break-glass-types.js';
import { decodedHistoryText } from '../helpers/decoded-history.js';
import { postgresSecretYaml, seed } from '../helpers/rotation-fixtures.js';
import { canLogin, startTestStack, superuserClient, type TestStack } from '../helpers/test-stack.js';
import { approveUpdate, breakGlassStatusQuery } from '../../workflows/contracts.js';
import { breakGlass } from '../../workflows/break-glass.js';

interface Unwrapped {
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
    requesters: [alice, bob]
    approvers: [carol, dave, erin]
    approvals: 2
    maxTtl: 1h
    approvalTimeout: 1m
    rotateAfter: true
    notifyUrl: ${url}
  - id: bg-short
    secretId: bg-db
    requesters: [alice]
    approvers: [carol]
    approvals: 1
    maxTtl: 10s
    approvalTimeout: 2s
    rotateAfter: false
  - id: bg-frozen
    secretId: bg-frozen-db
    requesters: [alice]
    approvers: [carol]
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

  const request = async (policyId: string, ttl: string, requester = 'alice'): Promise<WorkflowHandle> => {
    const workflowId = `break-glass/${policyId}/${Date.now()}`;
    workflowIds.push(workflowId);
    const handle = await stack.client.workflow.start(breakGlass, {
      taskQueue: stack.taskQueue,
      workflowId,
      args: [{ policyId, requester, justification: 'payments are failing, need to inspect locks', ttl }],
    });
    // Approvers can decide once the request is open (policy loaded, request audited).
    for (let i = 0; i < 100; i++) {
      const s = await statusOf(handle).catch(() => undefined);
      if (s?.open || s?.phase === 'done') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return handle;
  };
  const statusOf = (h: WorkflowHandle) => h.query(breakGlassStatusQuery);
  const refusal = async (p: Promise<unknown>): Promise<string> => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    return String(((err as Error).cause as Error | undefined)?.message);
  };
  const unwrap = async (h: WorkflowHandle): Promise<Unwrapped> => {
    for (let i = 0; i < 100 && (await statusOf(h)).phase !== 'granted'; i++) await new Promise((r) => setTimeout(r, 100));
    const { grant } = await statusOf(h);
    const cred = await new VaultClient(stack.env.ROTOR_VAULT_ADDR).unwrap<Unwrapped>(grant!.wrapToken);
    leaked.add(cred.password);
    return cred;
  };

  it('two of three distinct approvers grant a credential that logs in; it is refused after revocation, and the secret is rotated', async () => {
    const h = await request('bg-ops', '1h');
    const approve = (approver: string) => h.executeUpdate(approveUpdate, { args: [{ approver }] });
    expect(await refusal(approve('alice'))).toMatch(/alice requested this access and cannot decide on it/);
    expect(await refusal(approve('mallory'))).toMatch(/mallory is not in the approver group of bg-ops/);
    await approve('carol');
    expect(await refusal(approve('carol'))).toMatch(/carol already approved this request/);
    expect((await statusOf(h)).grant).toBeUndefined(); // one approval is not enough
    await approve('dave');
    expect(await refusal(approve('erin'))).toMatch(/already decided/);

    const cred = await unwrap(h);
    expect(await canLogin(stack.file, cred.username, cred.password)).toBe(true);
    // The wrapping token is single-use: a second unwrap (someone who read history) fails.
    const { grant } = await statusOf(h);
    await expect(new VaultClient(stack.env.ROTOR_VAULT_ADDR).unwrap(grant!.wrapToken)).rejects.toThrow();
    expect(notices.some((n) => n.policyId === 'bg-ops' && n.requester === 'alice' && (n.approvers as string[]).includes('carol'))).toBe(
      true,
    );

    expect(await refusal(h.executeUpdate('revoke', { args: [{ by: 'mallory' }] }))).toMatch(/only the requester or an approver/);
    await h.executeUpdate('revoke', { args: [{ by: 'alice' }] });
    const result = (await h.result()) as BreakGlassResult;
    expect(result).toMatchObject({ outcome: 'revoked', revokedBy: 'alice', username: cred.username, rotation: 'rotated' });
    expect(await canLogin(stack.file, cred.username, cred.password)).toBe(false);
    const su = await superuserClient(stack.file, 'demo');
    try {
      expect((await su.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [cred.username])).rowCount).toBe(0);
    } finally {
      await su.end();
    }
  });

  it('a grant ends by itself at its TTL and is verified gone', async () => {
    const h = await request('bg-short', '3s');
    await h.executeUpdate(approveUpdate, { args: [{ approver: 'carol' }] });
    const cred = await unwrap(h);
    expect(await canLogin(stack.file, cred.username, cred.password)).toBe(true);
    expect(await h.result()).toMatchObject({ outcome: 'revoked', revokedBy: 'ttl' });
    expect(await canLogin(stack.file, cred.username, cred.password)).toBe(false);
  });

  it('a denial or no decision in time ends without a grant; a TTL over the policy maximum is refused', async () => {
    const denied = await request('bg-ops', '30m', 'bob');
    await denied.executeUpdate('deny', { args: [{ approver: 'erin', comment: 'use the read replica instead' }] });
    expect(await denied.result()).toMatchObject({ outcome: 'denied', deniedBy: 'erin', reason: 'use the read replica instead' });
    expect((await statusOf(denied)).grant).toBeUndefined();

    const expired = await request('bg-short', '5s');
    expect(await expired.result()).toMatchObject({ outcome: 'expired', approvals: 0, required: 1 });
    expect((await statusOf(expired)).grant).toBeUndefined();

    const tooLong = await request('bg-short', '1h');
    expect(await tooLong.result()).toMatchObject({
      outcome: 'refused',
      reason: expect.stringMatching(/exceeds the policy's maximum of 10s/),
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

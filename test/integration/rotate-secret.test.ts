import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsumerService } from '../../demo/consumer-service.js';
import type { RotationResult } from '../../workflows/rotation-types.js';
import { decodedHistoryText } from '../helpers/decoded-history.js';
import {
  kvVersion,
  postgresSecretYaml,
  roleNames,
  rotate,
  seed,
  startConsumer,
  startRotation,
  waitForStatus,
} from '../helpers/rotation-fixtures.js';
import { canLogin, startTestStack, superuserClient, type TestStack } from '../helpers/test-stack.js';
import { identityToken } from '../helpers/operators.js';
import { statusQuery } from '../../workflows/contracts.js';

const SECRETS = [
  'happy-db',
  'refuse-db',
  'silent-db',
  'sick-db',
  'cas-db',
  'denied-db',
  'manual-db',
  'side-db',
  'sessions-db',
  'idle-db',
] as const;
type SecretId = (typeof SECRETS)[number];

const webhook = (name: string, c: ConsumerService) =>
  `      - name: ${name}\n        healthUrl: ${c.url}/health\n        confirm: { mode: webhook, url: ${c.url}/reload, timeout: 20s }`;
const health = (name: string, c: ConsumerService) =>
  `      - name: ${name}\n        healthUrl: ${c.url}/health\n        confirm: { mode: health, url: ${c.url}/health, timeout: 20s }`;
const manual = (name: string, timeout: string) => `      - name: ${name}\n        confirm: { mode: manual, timeout: ${timeout} }`;

describe('rotateSecret against the real stack', () => {
  let stack: TestStack;
  const consumers: Partial<Record<string, ConsumerService>> = {};
  /** Every credential value any version ever held, for the leak scans at the end. */
  const seenValues = new Set<string>();
  const remember = (cred: { password: string }) => seenValues.add(cred.password);

  const inventory = (withConsumers: boolean) => {
    const c = (key: string) => consumers[key]!;
    const spec: Record<SecretId, string> = {
      'happy-db': withConsumers ? `${webhook('billing', c('happy-billing'))}\n${health('ledger', c('happy-ledger'))}` : '',
      'refuse-db': withConsumers ? webhook('billing', c('refuse-billing')) : '',
      'silent-db': withConsumers ? `${webhook('billing', c('silent-billing'))}\n${manual('ops', '3s')}` : '',
      'sick-db': withConsumers ? webhook('billing', c('sick-billing')) : '',
      'cas-db': '',
      'denied-db': '',
      'manual-db': withConsumers ? manual('ops', '2m') : '',
      'side-db': '',
      'sessions-db': withConsumers
        ? `      - name: reporting\n        confirm: { mode: pg-sessions, timeout: 20s, applicationName: reporting }`
        : '',
      'idle-db': withConsumers ? `      - name: nightly\n        confirm: { mode: pg-sessions, timeout: 3s }` : '',
    };
    return `secrets:\n${SECRETS.map((id) => postgresSecretYaml(id, spec[id])).join('')}`;
  };

  beforeAll(async () => {
    stack = await startTestStack('rotate', inventory(false));
    for (const id of SECRETS) expect(await seed(stack, id)).toBe(1);
    for (const [key, id] of [
      ['happy-billing', 'happy-db'],
      ['happy-ledger', 'happy-db'],
      ['refuse-billing', 'refuse-db'],
      ['silent-billing', 'silent-db'],
      ['sick-billing', 'sick-db'],
    ] as const) {
      consumers[key] = await startConsumer(stack, id, key, key === 'happy-ledger' ? 300 : undefined);
    }
    await stack.writeInventory(inventory(true));
  });

  afterAll(async () => {
    for (const c of Object.values(consumers)) await c?.close();
    await stack?.close();
  });

  it('happy path: N → N+1, consumers confirm, the new password logs in, the old one is refused after the overlap', async () => {
    const before = await kvVersion(stack, 'happy-db');
    remember(before.data);
    const result = await rotate(stack, 'happy-db');
    expect(result, JSON.stringify(result)).toMatchObject({ outcome: 'rotated', fromVersion: 1, toVersion: 2 });
    const after = await kvVersion(stack, 'happy-db');
    remember(after.data);
    expect(after.version).toBe(2);
    expect(after.data.username).not.toBe(before.data.username); // the standby role took over
    expect(await canLogin(stack.file, after.data.username, after.data.password)).toBe(true);
    expect(await canLogin(stack.file, before.data.username, before.data.password)).toBe(false);
    expect(consumers['happy-billing']!.version()).toBe(2);
    expect(consumers['happy-ledger']!.version()).toBe(2);
    expect(result.outcome === 'rotated' && result.consumers.every((c) => c.status === 'confirmed')).toBe(true);
    // The staged copy is gone once it became the current version.
    expect(await stack.rootVault.kvList('rotor', '_rotor/pending/happy-db/')).toEqual([]);
  });

  it('target refuses the new password: aborted before promotion, version N still current and working, staged credential revoked', async () => {
    const [, standby] = roleNames('refuse-db');
    const su = await superuserClient(stack.file, 'demo');
    try {
      // The standby role exists with the same privileges (so the pre-check passes), but its
      // password has expired: the target refuses the staged credential.
      await su.query(`CREATE ROLE ${standby} LOGIN VALID UNTIL '2000-01-01'`);
      await su.query(`GRANT CONNECT ON DATABASE demo TO ${standby}`);
      const before = await kvVersion(stack, 'refuse-db');
      remember(before.data);
      const result = await rotate(stack, 'refuse-db');
      expect(result).toMatchObject({ outcome: 'aborted', failedPhase: 'testing', currentVersion: 1 });
      expect((await kvVersion(stack, 'refuse-db')).version).toBe(1);
      expect(await canLogin(stack.file, before.data.username, before.data.password)).toBe(true);
      const pw = await su.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [standby]);
      expect(pw.rows[0].rolpassword).toBeNull(); // staged password removed at the target
      expect(await stack.rootVault.kvList('rotor', '_rotor/pending/refuse-db/')).toEqual([]);
      expect(consumers['refuse-billing']!.version()).toBe(1);
    } finally {
      await su.end();
    }
  });

  it('a consumer never confirms: rolled back to the exact previous version, old password works, staged one refused', async () => {
    const before = await kvVersion(stack, 'silent-db');
    remember(before.data);
    const result = await rotate(stack, 'silent-db');
    expect(result).toMatchObject({
      outcome: 'rolled_back',
      fromVersion: 1,
      attemptedVersion: 2,
      restoredVersion: 3,
      failedPhase: 'awaiting_confirmation',
    });
    const attempted = await kvVersion(stack, 'silent-db', 2);
    remember(attempted.data);
    const current = await kvVersion(stack, 'silent-db');
    expect(current.version).toBe(3);
    expect(current.data).toEqual(before.data); // version 1's credential is current again
    expect(await canLogin(stack.file, before.data.username, before.data.password)).toBe(true);
    expect(await canLogin(stack.file, attempted.data.username, attempted.data.password)).toBe(false);
    expect(consumers['silent-billing']!.version()).toBe(3); // told to roll back, and it did
    const meta = await stack.rootVault.kvMetadata('rotor', 'apps/silent-db');
    expect(meta?.custom_metadata).toMatchObject({ rotor_restored_from_version: '1', rotor_restored_version: '3' });
  });

  it('a consumer turns unhealthy after cutover: post-validation fails and the previous version comes back', async () => {
    const before = await kvVersion(stack, 'sick-db');
    remember(before.data);
    consumers['sick-billing']!.failAfterNextReload();
    const result = await rotate(stack, 'sick-db');
    expect(result).toMatchObject({ outcome: 'rolled_back', failedPhase: 'post_validation' });
    const attempted = await kvVersion(stack, 'sick-db', 2);
    remember(attempted.data);
    expect((await kvVersion(stack, 'sick-db')).data).toEqual(before.data);
    expect(await canLogin(stack.file, before.data.username, before.data.password)).toBe(true);
    expect(await canLogin(stack.file, attempted.data.username, attempted.data.password)).toBe(false);
    consumers['sick-billing']!.setHealthy(true);
  });

  it('a concurrent KV write breaks check-and-set: the other writer is kept, nothing is overwritten, staged credential revoked', async () => {
    const [, standby] = roleNames('cas-db');
    const before = await kvVersion(stack, 'cas-db');
    remember(before.data);
    const su = await superuserClient(stack.file, 'demo');
    try {
      await su.query(`CREATE ROLE ${standby} LOGIN`);
      await su.query(`GRANT CONNECT ON DATABASE demo TO ${standby}`);
      // Hold a row lock on the standby role so the rotation pauses while applying.
      await su.query('BEGIN');
      await su.query(`ALTER ROLE ${standby} CONNECTION LIMIT 10`);
      const handle = await startRotation(stack, 'cas-db');
      await waitForStatus(stack, handle.workflowId, (s) => s.phase === 'applying');
      const concurrent = await stack.rootVault.kvWrite('rotor', 'apps/cas-db', { ...before.data, note: 'written by someone else' }, 1);
      await su.query('COMMIT');
      const result = (await handle.result()) as RotationResult;
      expect(result).toMatchObject({ outcome: 'aborted', failedPhase: 'promoting' });
      expect(result.outcome === 'aborted' && result.reason).toMatch(/check-and-set/);
      const current = await kvVersion(stack, 'cas-db');
      expect(current.version).toBe(concurrent.version);
      expect(current.data).toMatchObject({ note: 'written by someone else' });
      expect(await canLogin(stack.file, before.data.username, before.data.password)).toBe(true);
      const pw = await su.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [standby]);
      expect(pw.rows[0].rolpassword).toBeNull();
    } finally {
      await su.query('ROLLBACK').catch(() => undefined);
      await su.end();
    }
  });

  it('Vault refuses the staging write: the target never learns a credential Vault does not hold', async () => {
    const [, standby] = roleNames('denied-db');
    const before = await kvVersion(stack, 'denied-db');
    remember(before.data);
    // Reads stay allowed ("+" is more specific than the generated "*"): only the write of the staged credential is refused.
    await stack.writeWorkerPolicy('path "rotor/data/_rotor/pending/denied-db/+" { capabilities = ["read"] }\n');
    try {
      const result = await rotate(stack, 'denied-db');
      expect(result).toMatchObject({ outcome: 'aborted', failedPhase: 'staging' });
    } finally {
      await stack.writeWorkerPolicy();
    }
    expect((await kvVersion(stack, 'denied-db')).version).toBe(1);
    expect(await canLogin(stack.file, before.data.username, before.data.password)).toBe(true);
    const su = await superuserClient(stack.file, 'demo');
    try {
      expect((await su.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [standby])).rowCount).toBe(0);
    } finally {
      await su.end();
    }
  });

  it('one rotation per secret: a second start is refused naming the running one; another secret rotates in parallel; manual confirmation is validated', async () => {
    const handle = await startRotation(stack, 'manual-db');
    const running = await waitForStatus(stack, handle.workflowId, (s) => s.phase === 'awaiting_confirmation');
    const second = await startRotation(stack, 'manual-db').catch((e: unknown) => e);
    expect(second).toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
    expect((second as Error).message).toMatch(/rotate\/manual-db|already started/i);

    // Started under another id (as a schedule or a UI user might), the run yields to the running one.
    const skipped = await stack.client.workflow.execute('rotateSecret', {
      taskQueue: stack.taskQueue,
      workflowId: `manual-db-ui-${Date.now()}`,
      args: [{ secretId: 'manual-db' }],
    });
    expect(skipped).toMatchObject({ outcome: 'skipped', runningWorkflowId: 'rotate/manual-db' });

    const side = await rotate(stack, 'side-db');
    expect(side).toMatchObject({ outcome: 'rotated', toVersion: 2 });
    remember((await kvVersion(stack, 'side-db', 1)).data);
    remember((await kvVersion(stack, 'side-db', 2)).data);

    const confirm = (arg: unknown) => handle.executeUpdate('confirmCutover', { args: [arg] });
    for (const [arg, reason] of [
      [{ consumer: 'nobody', version: running.toVersion }, /unknown consumer "nobody"/],
      [{ consumer: 'ops', version: 99 }, /not the promoted version/],
      [{ consumer: 'ops' }, /version/],
    ] as const) {
      const err = await confirm(arg).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(String(((err as Error).cause as Error | undefined)?.message)).toMatch(reason);
    }
    // A declared name proves nothing; a forged or foreign token neither: the consumer stays waiting.
    const carolToken = await identityToken(stack.file, 'carol');
    const [header, claims] = carolToken.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(claims!, 'base64url').toString()), username: 'mallory' })).toString('base64url')}.${carolToken.split('.')[2]}`;
    for (const [arg, reason] of [
      [{ consumer: 'ops', version: running.toVersion, confirmedBy: 'alice' }, /identity: required/],
      [{ consumer: 'ops', version: running.toVersion, identity: forged }, /signature does not verify/],
    ] as const) {
      const err = await confirm(arg).catch((e: unknown) => e);
      expect(String(((err as Error).cause as Error | undefined)?.message)).toMatch(reason);
      expect((await handle.query(statusQuery)).consumers).toEqual([
        expect.objectContaining({ name: 'ops', status: expect.not.stringMatching('confirmed') }),
      ]);
    }
    // The worker records who the token proves, whatever name the payload declares.
    expect(await confirm({ consumer: 'ops', version: running.toVersion, confirmedBy: 'alice', identity: carolToken })).toMatchObject({
      status: 'confirmed',
      confirmedBy: 'carol',
    });
    const again = await confirm({ consumer: 'ops', version: running.toVersion }).catch((e: unknown) => e);
    expect(String(((again as Error).cause as Error | undefined)?.message)).toMatch(/already confirmed/);
    expect(await handle.result()).toMatchObject({ outcome: 'rotated', toVersion: 2 });
    remember((await kvVersion(stack, 'manual-db', 1)).data);
    remember((await kvVersion(stack, 'manual-db', 2)).data);
  });

  it('observed cutover: confirms once the new role is seen connected and no session of the old role remains', async () => {
    const before = await kvVersion(stack, 'sessions-db');
    remember(before.data);
    const pg = (await import('pg')).default;
    const session = (cred: { username: string; password: string }, applicationName: string) =>
      new pg.Client({
        host: stack.file.postgres.host,
        port: stack.file.postgres.port,
        user: cred.username,
        password: cred.password,
        database: 'demo',
        application_name: applicationName,
      });
    const oldSession = session(before.data, 'reporting');
    await oldSession.connect();
    const handle = await startRotation(stack, 'sessions-db');
    const waiting = await waitForStatus(stack, handle.workflowId, (s) => s.phase === 'awaiting_confirmation');
    await oldSession.end(); // the old role is gone, but nobody uses the new one yet: not a cutover
    await new Promise((r) => setTimeout(r, 1500));
    expect((await handle.query(statusQuery)).consumers[0]!.status).toBe('notified');
    const promoted = await kvVersion(stack, 'sessions-db');
    expect(promoted.version).toBe(waiting.toVersion);
    const otherApp = session(promoted.data, 'someone-else'); // another application's session does not count
    await otherApp.connect();
    await new Promise((r) => setTimeout(r, 1500));
    expect((await handle.query(statusQuery)).consumers[0]!.status).toBe('notified');
    const newSession = session(promoted.data, 'reporting'); // the consumer reconnected with the new credential
    await newSession.connect();
    try {
      expect(await handle.result()).toMatchObject({ outcome: 'rotated' });
    } finally {
      await newSession.end();
      await otherApp.end();
    }
    remember(promoted.data);
  });

  it('observed cutover: an idle consumer (no session of either role) never confirms, and the rotation rolls back', async () => {
    const before = await kvVersion(stack, 'idle-db');
    remember(before.data);
    const result = await rotate(stack, 'idle-db');
    expect(result).toMatchObject({ outcome: 'rolled_back', failedPhase: 'awaiting_confirmation', fromVersion: 1 });
    remember((await kvVersion(stack, 'idle-db', 2)).data);
    expect((await kvVersion(stack, 'idle-db')).data).toEqual(before.data);
    expect(await canLogin(stack.file, before.data.username, before.data.password)).toBe(true);
  });

  it('bad input fails fast with the field named, and unknown secrets are refused', async () => {
    const bad = await stack.client.workflow
      .execute('rotateSecret', { taskQueue: stack.taskQueue, workflowId: `bad-${Date.now()}`, args: [{ secretId: 'Not Valid!' }] })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(WorkflowFailedError);
    expect(String(((bad as Error).cause as Error | undefined)?.message)).toMatch(/secretId: the id of a secret/);
    const unknown = await stack.client.workflow
      .execute('rotateSecret', { taskQueue: stack.taskQueue, workflowId: 'rotate/no-such-db', args: [{ secretId: 'no-such-db' }] })
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(WorkflowFailedError);
  });

  it('no secret value appears in workflow history, worker logs or audit rows', async () => {
    expect(seenValues.size).toBeGreaterThanOrEqual(8);
    const ids = SECRETS.map((id) => `rotate/${id}`);
    const texts = [stack.logLines.join('\n')];
    for (const id of ids) texts.push(await decodedHistoryText(stack.client, id, stack.env.ROTOR_CODEC_KEY));
    const su = await superuserClient(stack.file, 'rotor');
    try {
      const audit = await su.query('SELECT * FROM audit_log WHERE secret_id = ANY($1)', [SECRETS]);
      expect(audit.rowCount).toBeGreaterThan(40);
      texts.push(JSON.stringify(audit.rows));
    } finally {
      await su.end();
    }
    const haystack = texts.join('\n');
    expect(haystack).toContain('happy-db'); // the scan sees real content
    for (const value of seenValues) expect(haystack.includes(value), 'a secret value leaked').toBe(false);
  });
});

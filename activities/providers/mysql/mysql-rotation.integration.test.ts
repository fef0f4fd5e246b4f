import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { WorkflowHandle } from '@temporalio/client';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_MYSQL_ADMIN_PATH, DEMO_MYSQL_ROLE } from '../../../stack/bootstrap-mariadb.js';
import { readStackFile } from '../../../stack/up.js';
import { liftFreeze, runIncident } from '../../../test/helpers/incident.js';
import { leakHaystack, seedAndRotationIds, seedWorkflowId } from '../../../test/helpers/leak-scan.js';
import { identityToken, operatorToken, type OperatorName } from '../../../test/helpers/operators.js';
import { seed, startRotation, waitForStatus } from '../../../test/helpers/rotation-fixtures.js';
import { startTestStack, type TestStack } from '../../../test/helpers/test-stack.js';
import { VaultClient } from '../../../vault/vault-client.js';
import type { BreakGlassResult } from '../../../workflows/break-glass-types.js';
import { breakGlass } from '../../../workflows/break-glass.js';
import { approveUpdate, breakGlassStatusQuery, incidentWorkflowId } from '../../../workflows/contracts.js';
import type { RotationResult } from '../../../workflows/rotation-types.js';
import { ProviderCaches } from '../provider-caches.js';
import { endConnections, mysqlProvider } from './provider.js';
import { mysqlSpec, type MysqlAdmin, type MysqlCredential } from './schema.js';

/** Each secret's two accounts: `<id>_a` holds the first credential and real privileges on demo.orders. */
const users = (id: string): [string, string] => [`${id.replace(/-/g, '_')}_a`, `${id.replace(/-/g, '_')}_b`];

const SECRETS = {
  rotate: { id: 'my-rotate', consumers: 'confirm: { mode: manual, timeout: 2m }' },
  precheck: { id: 'my-precheck', consumers: 'confirm: { mode: manual, timeout: 2m }' },
  partial: { id: 'my-partial', consumers: 'confirm: { mode: manual, timeout: 2m }' },
  rollback: { id: 'my-rollback', consumers: 'confirm: { mode: manual, timeout: 3s }' },
  sessions: { id: 'my-sessions', consumers: 'confirm: { mode: sessions, timeout: 2m }' },
  leaked: { id: 'my-leaked', consumers: 'confirm: { mode: manual, timeout: 2s }' },
  bg: { id: 'my-bg', consumers: 'confirm: { mode: manual, timeout: 2s }' },
} as const;
const ALL = Object.values(SECRETS);

/** Rotor's sessions verify the server's certificate (IP SAN 127.0.0.1) and the users it sets get REQUIRE SSL. */
const TLS_SECRET = 'my-tls';

const inventory = (caFile: string) => `secrets:
  - id: ${TLS_SECRET}
    path: apps/${TLS_SECRET}
    owner: team-test
    tags: [test]
    provider:
      type: mysql
      adminPath: ${DEMO_MYSQL_ADMIN_PATH}
      users: [${users(TLS_SECRET).join(', ')}]
      database: demo
      tls: { mode: verify-full, caFile: ${caFile} }
      requireSsl: true
    overlap: 1s
    consumers:
      - name: app
        confirm: { mode: manual, timeout: 2m }
${ALL.map((s) => {
  const [a, b] = users(s.id);
  return `  - id: ${s.id}
    path: apps/${s.id}
    owner: team-test
    tags: [test]
    provider: { type: mysql, adminPath: ${DEMO_MYSQL_ADMIN_PATH}, users: [${a}, ${b}], database: demo, validationQuery: "SELECT COUNT(*) FROM orders" }
    overlap: 1s
    consumers:
      - name: app
        ${s.consumers}
`;
}).join('')}
breakGlass:
  - id: my-bg-ops
    secretId: ${SECRETS.bg.id}
    requesterGroups: [rotor-breakglass-requesters]
    approverGroups: [rotor-breakglass-approvers]
    approvals: 2
    maxTtl: 1h
    approvalTimeout: 1m
    rotateAfter: false
`;

describe('mysql provider against the real MariaDB', () => {
  let stack: TestStack;
  let root: mysql.Connection;
  /** Every password any version held (and the break-glass one), for the leak scan. */
  const seen = new Set<string>();
  const workflowIds: string[] = [];

  const maria = () => stack.file.mariadb;
  const kv = async (secretId: string, version?: number): Promise<{ data: MysqlCredential; version: number }> => {
    const read = await stack.rootVault.kvRead<MysqlCredential>('rotor', `apps/${secretId}`, version);
    if (!read) throw new Error(`no version ${version ?? 'current'} of apps/${secretId}`);
    seen.add(read.data.password);
    return { data: read.data, version: read.metadata.version };
  };
  const connect = (c: { username: string; password: string }) =>
    mysql.createConnection({ host: maria().host, port: maria().port, user: c.username, password: c.password, database: 'demo' });
  /** A real login at MariaDB; false only when the server refuses it (access denied, account locked). */
  const logsIn = async (c: { username: string; password: string }): Promise<boolean> => {
    try {
      const conn = await connect(c);
      await conn.query('SELECT 1');
      await conn.end();
      return true;
    } catch (err) {
      if ([1044, 1045, 4151].includes((err as { errno?: number }).errno ?? 0)) return false;
      throw err;
    }
  };
  /** The credential reads and writes what the first user could: a row inserted and read back. */
  const readsAndWrites = async (c: MysqlCredential): Promise<void> => {
    const conn = await connect(c);
    try {
      const item = `by-${c.username}-${Date.now()}`;
      await conn.query('INSERT INTO orders (item) VALUES (?)', [item]);
      const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM orders WHERE item = ?', [item]);
      expect(Number(rows[0]!.n)).toBe(1);
    } finally {
      await conn.end();
    }
  };
  const userExists = async (name: string) =>
    (await root.query<mysql.RowDataPacket[]>('SELECT 1 FROM mysql.user WHERE User = ?', [name]))[0].length > 0;

  beforeAll(async () => {
    stack = await startTestStack('mysql', inventory((await readStackFile('test')).mariadb.caFile));
    root = await mysql.createConnection({ host: maria().host, port: maria().port, user: maria().rootUser, password: maria().rootPassword });
    // Each first user exists before seeding with real privileges, so "the same privileges" means something.
    for (const s of [...ALL, { id: TLS_SECRET }]) {
      for (const u of users(s.id)) await root.query(`DROP USER IF EXISTS '${u}'@'%'`);
      const [a] = users(s.id);
      await root.query(`CREATE USER '${a}'@'%' IDENTIFIED BY 'set-by-root-before-seeding'`);
      await root.query(`GRANT SELECT, INSERT ON demo.orders TO '${a}'@'%'`);
    }
    // The pre-check case: a standby that exists already but may only read.
    const [pa, pb] = users(SECRETS.precheck.id);
    await root.query(`CREATE USER '${pb}'@'%' IDENTIFIED BY 'standby-made-by-hand'`);
    await root.query(`GRANT SELECT ON demo.orders TO '${pb}'@'%'`);
    expect(pa).toBe('my_precheck_a');
    // What an apply cut short between GRANT role and SET DEFAULT ROLE leaves: locked, a member of
    // the role without it as default role (none of its privileges at login).
    const [, partialB] = users(SECRETS.partial.id);
    await root.query(`CREATE USER '${partialB}'@'%' IDENTIFIED BY 'half-made-by-a-cut-short-apply' ACCOUNT LOCK`);
    await root.query(`GRANT ${DEMO_MYSQL_ROLE} TO '${partialB}'@'%'`);
    for (const s of [...ALL, { id: TLS_SECRET }]) expect(await seed(stack, s.id)).toBe(1);
  });

  afterAll(async () => {
    await root?.end();
    await stack?.close();
  });

  it('seeding sets the first user password (vault first) and that credential reads and writes', async () => {
    const v1 = await kv(SECRETS.rotate.id, 1);
    expect(v1.data).toMatchObject({ username: 'my_rotate_a', host: maria().host, port: String(maria().port), database: 'demo' });
    expect(await logsIn({ username: 'my_rotate_a', password: 'set-by-root-before-seeding' })).toBe(false);
    await readsAndWrites(v1.data);
  });

  it('rotation: both log in while awaiting confirmation; after it the new user reads and writes as the old did, the old is refused', async () => {
    const id = SECRETS.rotate.id;
    const before = await kv(id);
    const handle = await startRotation(stack, id);
    workflowIds.push(handle.workflowId);
    const waiting = await waitForStatus(stack, handle.workflowId, (s) => s.phase === 'awaiting_confirmation');
    expect(waiting).toMatchObject({ fromVersion: 1, toVersion: 2 });
    const promoted = await kv(id);
    expect(promoted.version).toBe(2);
    expect(promoted.data.username).toBe('my_rotate_b'); // created by rotor with a copy of my_rotate_a's grants
    expect(await logsIn(before.data)).toBe(true);
    expect(await logsIn(promoted.data)).toBe(true);
    // The password reached MariaDB as a hash only: the server stores exactly that.
    const [grants] = await root.query<mysql.RowDataPacket[]>("SHOW GRANTS FOR 'my_rotate_b'@'%'");
    expect(grants.map((g) => String(Object.values(g)[0])).join('\n')).toMatch(/GRANT SELECT, INSERT ON `demo`.`orders`/);

    await handle.executeUpdate('confirmCutover', {
      args: [{ consumer: 'app', version: 2, identity: await identityToken(stack.file, 'alice') }],
    });
    const result = (await handle.result()) as RotationResult;
    expect(result, JSON.stringify(result)).toMatchObject({ outcome: 'rotated', fromVersion: 1, toVersion: 2 });
    expect(await logsIn(promoted.data)).toBe(true);
    await readsAndWrites(promoted.data);
    expect(await logsIn(before.data)).toBe(false);
    expect(await userExists('my_rotate_a')).toBe(true); // locked, kept as the next standby

    // The next rotation goes back to my_rotate_a: unlocked again, with a new password.
    const next = await startRotation(stack, id);
    await waitForStatus(stack, next.workflowId, (s) => s.phase === 'awaiting_confirmation');
    const third = await kv(id);
    expect(third).toMatchObject({ version: 3, data: { username: 'my_rotate_a' } });
    expect(await logsIn(third.data)).toBe(true);
    expect(await logsIn(before.data)).toBe(false); // version 1's password is gone for good
    await next.executeUpdate('confirmCutover', {
      args: [{ consumer: 'app', version: 3, identity: await identityToken(stack.file, 'alice') }],
    });
    expect(await next.result()).toMatchObject({ outcome: 'rotated', fromVersion: 2, toVersion: 3 });
    await readsAndWrites(third.data);
    expect(await logsIn(promoted.data)).toBe(false);
  });

  it('pre-check: a standby that lacks a privilege of the active user stops the rotation and nothing changes', async () => {
    const id = SECRETS.precheck.id;
    const before = await kv(id);
    const handle = await startRotation(stack, id);
    workflowIds.push(handle.workflowId);
    const result = (await handle.result()) as RotationResult;
    expect(result).toMatchObject({ outcome: 'aborted', failedPhase: 'prechecks' });
    const reason = result.outcome === 'aborted' ? result.reason : '';
    expect(reason).toMatch(/provider\.users: user 'my_precheck_b'@'%' would get the new password but lacks .*INSERT ON `demo`.`orders`/);
    expect(reason).toMatch(/provider\.grantRole/);
    expect((await kv(id)).version).toBe(before.version);
    expect(await logsIn(before.data)).toBe(true);
    expect(await logsIn({ username: 'my_precheck_b', password: 'standby-made-by-hand' })).toBe(true); // its password untouched
  });

  it('a standby left locked with only a role membership (no default role): the rotation aborts before promotion, it stays locked', async () => {
    const id = SECRETS.partial.id;
    const [, b] = users(id);
    const before = await kv(id);
    const handle = await startRotation(stack, id);
    workflowIds.push(handle.workflowId);
    const result = (await handle.result()) as RotationResult;
    expect(result, JSON.stringify(result)).toMatchObject({ outcome: 'aborted' });
    expect(result.outcome === 'aborted' ? result.reason : '').toMatch(/INSERT ON `demo`.`orders`/);
    expect((await kv(id)).version).toBe(before.version);
    expect(await logsIn(before.data)).toBe(true);
    const [created] = await root.query<mysql.RowDataPacket[]>(`SHOW CREATE USER '${b}'@'%'`);
    expect(String(Object.values(created[0]!)[0])).toMatch(/ACCOUNT LOCK/);
  });

  it('apply retried on a standby cut short after GRANT role (locked, no default role) finishes it before unlocking, with grantRole and with a copy', async () => {
    const admin = (await stack.rootVault.kvRead<MysqlAdmin>('rotor', DEMO_MYSQL_ADMIN_PATH))!.data;
    const caches = new ProviderCaches();
    try {
      for (const grantRole of [DEMO_MYSQL_ROLE, undefined]) {
        const [a, b] = grantRole ? ['my_retry_role_a', 'my_retry_role_b'] : ['my_retry_copy_a', 'my_retry_copy_b'];
        for (const u of [a, b]) await root.query(`DROP USER IF EXISTS '${u}'@'%'`);
        await root.query(`CREATE USER '${a}'@'%' IDENTIFIED BY 'active-made-by-hand'`);
        await root.query(`GRANT ${DEMO_MYSQL_ROLE} TO '${a}'@'%'`);
        await root.query(`SET DEFAULT ROLE ${DEMO_MYSQL_ROLE} FOR '${a}'@'%'`);
        await root.query(`CREATE USER '${b}'@'%' IDENTIFIED BY 'half-made' ACCOUNT LOCK`);
        await root.query(`GRANT ${DEMO_MYSQL_ROLE} TO '${b}'@'%'`);
        const spec = mysqlSpec.parse({
          type: 'mysql',
          adminPath: DEMO_MYSQL_ADMIN_PATH,
          users: [a, b],
          database: 'demo',
          ...(grantRole ? { grantRole } : {}),
        });
        const provider = mysqlProvider(spec, { admin, endpoint: { host: admin.host, port: Number(admin.port) } }, caches);
        const cred: MysqlCredential = {
          username: b,
          password: `retried-${randomBytes(12).toString('hex')}`,
          host: admin.host,
          port: admin.port,
          database: 'demo',
        };
        if (provider.source.kind !== 'generate') throw new Error('generate expected');
        await provider.source.apply(cred);
        const [grants] = await root.query<mysql.RowDataPacket[]>(`SHOW GRANTS FOR '${b}'@'%'`);
        expect(grants.map((g) => String(Object.values(g)[0]))).toContain(`SET DEFAULT ROLE \`${DEMO_MYSQL_ROLE}\` FOR \`${b}\`@\`%\``);
        await readsAndWrites(cred); // the role's privileges at login
        await provider.precheck!({ ...cred, username: a, password: 'active-made-by-hand' }); // nothing missing either way
        for (const u of [a, b]) await root.query(`DROP USER IF EXISTS '${u}'@'%'`);
      }
    } finally {
      await caches.close();
    }
  });

  it('a dropped user keeps its open session until killed: endConnections (the break-glass proof) ends it and reports none left', async () => {
    const name = 'my_dropped_with_session';
    await root.query(`DROP USER IF EXISTS '${name}'@'%'`);
    await root.query(`CREATE USER '${name}'@'%' IDENTIFIED BY 'dropped-but-connected'`);
    await root.query(`GRANT SELECT ON demo.orders TO '${name}'@'%'`);
    const session = await connect({ username: name, password: 'dropped-but-connected' });
    session.on('error', () => undefined);
    await root.query(`DROP USER '${name}'@'%'`);
    await session.query('SELECT 1'); // DROP USER ended nothing
    expect(await userExists(name)).toBe(false);
    expect(await endConnections(root, name)).toBe(0);
    const err = await session.query('SELECT 1').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, 'the dropped user’s session is still open').toBeInstanceOf(Error);
    session.destroy();
  });

  it('rollback: nobody confirms, version 1 is current again and logs in; the attempted credential is refused', async () => {
    const id = SECRETS.rollback.id;
    const before = await kv(id);
    const handle = await startRotation(stack, id);
    workflowIds.push(handle.workflowId);
    const result = (await handle.result()) as RotationResult;
    expect(result, JSON.stringify(result)).toMatchObject({
      outcome: 'rolled_back',
      fromVersion: 1,
      attemptedVersion: 2,
      restoredVersion: 3,
      failedPhase: 'awaiting_confirmation',
    });
    const attempted = await kv(id, 2);
    const current = await kv(id);
    expect(current.version).toBe(3);
    expect(current.data).toEqual(before.data);
    expect(await logsIn(current.data)).toBe(true);
    await readsAndWrites(current.data);
    expect(await logsIn(attempted.data)).toBe(false);
  });

  it('observed cutover (sessions): an idle consumer does not confirm; moving its pool to the new credential does', async () => {
    const id = SECRETS.sessions.id;
    const before = await kv(id);
    const pool = (c: MysqlCredential) =>
      mysql.createPool({
        host: maria().host,
        port: maria().port,
        user: c.username,
        password: c.password,
        database: 'demo',
        connectionLimit: 2,
      });
    const oldPool = pool(before.data);
    const held = await oldPool.getConnection(); // the consumer's live connection with the old credential
    await held.query('SELECT 1');
    const handle = await startRotation(stack, id);
    workflowIds.push(handle.workflowId);
    await waitForStatus(stack, handle.workflowId, (s) => s.phase === 'awaiting_confirmation');
    const promoted = await kv(id);
    // Still on the old credential: the rotation waits.
    await new Promise((r) => setTimeout(r, 3_000));
    const waiting = await waitForStatus(stack, handle.workflowId, () => true);
    expect(waiting.phase).toBe('awaiting_confirmation');
    expect(waiting.consumers[0]?.status).not.toBe('confirmed');

    // The consumer reloads: a pool with the new credential, the old pool closed.
    const newPool = pool(promoted.data);
    const fresh = await newPool.getConnection();
    await fresh.query('SELECT COUNT(*) FROM orders');
    held.release();
    await oldPool.end();
    const result = (await handle.result()) as RotationResult;
    expect(result, JSON.stringify(result)).toMatchObject({ outcome: 'rotated', fromVersion: 1, toVersion: 2 });
    expect(result.outcome === 'rotated' && result.consumers[0]).toMatchObject({ status: 'confirmed', confirmedVersion: 2 });
    await fresh.query('SELECT 1'); // the consumer was never cut off
    fresh.release();
    await newPool.end();
    expect(await logsIn(before.data)).toBe(false);
  });

  it('emergency through revokeAll: the old user’s live connection is killed and the old credential refused', async () => {
    const id = SECRETS.leaked.id;
    const before = await kv(id);
    const attacker = await connect(before.data);
    attacker.on('error', () => undefined);
    await attacker.query('SELECT 1');
    const incidentId = 'inc-mysql-leak';
    workflowIds.push(incidentWorkflowId(incidentId));
    const report = await runIncident(stack, { incidentId, reason: 'database password in a public paste', secretIds: [id], by: 'carol' });
    expect(report.secrets[0]).toMatchObject({ secretId: id, status: 'done', fromVersion: 1, toVersion: 2 });
    const err = await attacker.query('SELECT 1').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, 'the leaked credential’s connection is still open').toBeInstanceOf(Error);
    attacker.destroy();
    expect(await logsIn(before.data)).toBe(false);
    const after = await kv(id);
    expect(after.version).toBe(2);
    expect(await logsIn(after.data)).toBe(true);
    await readsAndWrites(after.data);
    await liftFreeze(stack, incidentId, 'alice');
  });

  it('break-glass: alice requests, carol and dave approve, her credential logs in to MariaDB; revoking drops the user', async () => {
    const workflowId = `break-glass/my-bg-ops/${Date.now()}`;
    workflowIds.push(workflowId);
    const handle: WorkflowHandle = await stack.client.workflow.start(breakGlass, {
      taskQueue: stack.taskQueue,
      workflowId,
      args: [{ policyId: 'my-bg-ops', identity: await identityToken(stack.file, 'alice'), justification: 'orders stuck', ttl: '10m' }],
    });
    const status = () => handle.query(breakGlassStatusQuery);
    for (let i = 0; i < 100 && !(await status().catch(() => undefined))?.open; i++) await new Promise((r) => setTimeout(r, 50));
    for (const approver of ['carol', 'dave'] as OperatorName[])
      await handle.executeUpdate(approveUpdate, { args: [{ identity: await identityToken(stack.file, approver) }] });
    for (let i = 0; i < 150 && (await status()).phase !== 'granted'; i++) await new Promise((r) => setTimeout(r, 100));
    const { grant } = await status();
    expect(grant?.deliveredTo).toBeTruthy();
    const alice = new VaultClient(stack.env.ROTOR_VAULT_ADDR, await operatorToken(stack.file, 'alice'));
    const delivered = (await alice.kvRead<Record<string, string>>(stack.env.ROTOR_VAULT_KV_MOUNT, grant!.deliveredTo!))!.data;
    seen.add(delivered.password!);
    expect(delivered).toMatchObject({ host: maria().host, port: String(maria().port), database: 'demo' });
    const cred = { username: delivered.username!, password: delivered.password! };
    const session = await connect(cred);
    session.on('error', () => undefined);
    const [rows] = await session.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM orders');
    expect(Number(rows[0]!.n)).toBeGreaterThan(0);
    expect(await userExists(cred.username)).toBe(true);

    await handle.executeUpdate('revoke', { args: [{ identity: await identityToken(stack.file, 'alice') }] });
    const result = (await handle.result()) as BreakGlassResult;
    expect(result).toMatchObject({ outcome: 'revoked', revokedBy: 'alice', username: cred.username });
    expect(await userExists(cred.username)).toBe(false);
    expect(await logsIn(cred)).toBe(false);
    const killed = await session.query('SELECT 1').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(killed, 'the break-glass session outlived its user').toBeInstanceOf(Error);
    session.destroy();
  });

  it('requireSsl over verified TLS: the users rotor sets require SSL; the new one logs in over TLS only, the old one not at all', async () => {
    const withTls = (c: { username: string; password: string }) =>
      mysql
        .createConnection({
          host: maria().host,
          port: maria().port,
          user: c.username,
          password: c.password,
          database: 'demo',
          ssl: { ca: readFileSync(maria().caFile), rejectUnauthorized: true },
        })
        .then(async (conn) => {
          await conn.query('SELECT COUNT(*) FROM orders');
          await conn.end();
          return true;
        });
    const before = await kv(TLS_SECRET);
    expect(await withTls(before.data)).toBe(true);
    expect(await logsIn(before.data)).toBe(false); // seeding set REQUIRE SSL on the first user: plaintext is refused
    const handle = await startRotation(stack, TLS_SECRET);
    workflowIds.push(handle.workflowId);
    const status = await waitForStatus(stack, handle.workflowId, (s) => s.phase === 'awaiting_confirmation' || s.phase === 'done');
    if (status.phase === 'done') expect(await handle.result()).toBe('awaiting confirmation'); // shows why it ended
    const promoted = await kv(TLS_SECRET);
    await handle.executeUpdate('confirmCutover', {
      args: [{ consumer: 'app', version: promoted.version, identity: await identityToken(stack.file, 'alice') }],
    });
    expect(await handle.result()).toMatchObject({ outcome: 'rotated', fromVersion: 1, toVersion: 2 });
    const [created] = await root.query<mysql.RowDataPacket[]>(`SHOW CREATE USER '${promoted.data.username}'@'%'`);
    expect(String(Object.values(created[0]!)[0])).toMatch(/REQUIRE SSL/);
    expect(await withTls(promoted.data)).toBe(true);
    expect(await logsIn(promoted.data)).toBe(false);
    // Revoked: locked, with a password nobody knows.
    expect([1045, 4151]).toContain(await withTls(before.data).catch((e: { errno?: number }) => e.errno));
  });

  it('no password appears in workflow history, worker logs or audit rows', async () => {
    for (const s of ALL) for (const v of [1, 2, 3]) await kv(s.id, v).catch(() => undefined);
    expect(seen.size).toBeGreaterThanOrEqual(ALL.length + 5);
    const ids = [...ALL.map((s) => s.id), TLS_SECRET];
    const rotated = ids.filter((id) => id !== SECRETS.bg.id); // the break-glass secret is never rotated
    const haystack = await leakHaystack(stack, {
      // workflowIds: the rotations started here, the incident and the break-glass request.
      workflowIds: [...seedAndRotationIds(stack, rotated), seedWorkflowId(stack, SECRETS.bg.id), ...workflowIds],
      secretIds: ids,
    });
    expect(haystack).toContain('my-rollback'); // the scan sees real content
    expect(haystack).toContain('awaiting_confirmation');
    for (const value of seen) expect(haystack.includes(value), 'a password leaked').toBe(false);
  });
});

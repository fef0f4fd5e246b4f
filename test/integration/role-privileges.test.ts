import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvVersion, postgresSecretYaml, rotate, seed, type DbCredential } from '../helpers/rotation-fixtures.js';
import { canLogin, startTestStack, superuserClient, type TestStack } from '../helpers/test-stack.js';

/**
 * A rotation must not break what the application does with the credential: the role that gets the
 * new password can do what the old one could (invariant one-working-credential). Asserted at
 * PostgreSQL, by querying a table as the new credential.
 */
const TABLE = 'priv_orders';
const inventory = `secrets:
${postgresSecretYaml('priv-db')}${postgresSecretYaml('priv-pre')}${postgresSecretYaml('priv-group').replace(
  'database: demo }',
  'database: demo, grantRole: priv_readers }',
)}${postgresSecretYaml('priv-col').replace('database: demo }', `database: demo, validationQuery: "SELECT id FROM ${TABLE} LIMIT 1" }`)}`;

describe('the new credential can do what the old one could', () => {
  let stack: TestStack;
  let su: pg.Client;

  /** Runs `sql` as `cred` on the demo database: undefined when it worked, else the error message. */
  async function attempt(cred: DbCredential, sql: string): Promise<string | undefined> {
    const client = new pg.Client({
      host: stack.file.postgres.host,
      port: stack.file.postgres.port,
      user: cred.username,
      password: cred.password,
      database: 'demo',
    });
    try {
      await client.connect();
      await client.query(sql);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  beforeAll(async () => {
    stack = await startTestStack('privileges', inventory);
    su = await superuserClient(stack.file, 'demo');
    await su.query(`CREATE TABLE ${TABLE} (id int, note text)`);
    await su.query(`INSERT INTO ${TABLE} VALUES (1, 'first order')`);
    // Both roles of these two secrets exist before rotor sees them, as a DBA would have made them.
    for (const role of ['priv_pre_a', 'priv_pre_b', 'priv_col_a', 'priv_col_b']) {
      await su.query(`CREATE ROLE ${role} LOGIN`);
      await su.query(`GRANT CONNECT ON DATABASE demo TO ${role}`);
    }
    // A column grant: the privilege comparison cannot see it, the validation query can (it runs when seeding too).
    await su.query(`GRANT SELECT (id) ON ${TABLE} TO priv_col_a`);
    // A group role that holds the application's privileges (provider.grantRole).
    await su.query('CREATE ROLE priv_readers NOLOGIN');
    await su.query(`GRANT SELECT ON ${TABLE} TO priv_readers`);
    for (const id of ['priv-db', 'priv-pre', 'priv-col', 'priv-group']) expect(await seed(stack, id)).toBe(1);
  });
  afterAll(async () => {
    await su?.end();
    await stack?.close();
  });

  it('a role rotor creates becomes a member of the active role: the new password reads the table, rotation after rotation', async () => {
    await su.query(`GRANT SELECT ON ${TABLE} TO priv_db_a`);
    const first = await kvVersion(stack, 'priv-db');
    expect(await attempt(first.data, `SELECT count(*) FROM ${TABLE}`)).toBeUndefined();

    expect(await rotate(stack, 'priv-db')).toMatchObject({ outcome: 'rotated', toVersion: 2 });
    const second = await kvVersion(stack, 'priv-db');
    expect(second.data.username).toBe('priv_db_b');
    expect(await attempt(second.data, `SELECT count(*) FROM ${TABLE}`)).toBeUndefined();
    expect(await canLogin(stack.file, first.data.username, first.data.password)).toBe(false);
    const member = await su.query("SELECT pg_has_role('priv_db_b', 'priv_db_a', 'MEMBER') AS m");
    expect(member.rows[0].m).toBe(true);

    // Back to priv_db_a: both roles exist now, the pre-check compares them and lets it through.
    expect(await rotate(stack, 'priv-db')).toMatchObject({ outcome: 'rotated', toVersion: 3 });
    const third = await kvVersion(stack, 'priv-db');
    expect(third.data.username).toBe('priv_db_a');
    expect(await attempt(third.data, `SELECT count(*) FROM ${TABLE}`)).toBeUndefined();
  });

  it('when the existing standby lacks privileges the pre-check refuses, naming them and the fix, and changes nothing', async () => {
    await su.query(`GRANT SELECT, INSERT ON ${TABLE} TO priv_pre_a`);
    const before = await kvVersion(stack, 'priv-pre');
    const result = await rotate(stack, 'priv-pre');
    expect(result).toMatchObject({ outcome: 'aborted', failedPhase: 'prechecks' });
    const reason = result.outcome === 'aborted' ? result.reason : '';
    expect(reason).toMatch(/provider\.users: role "priv_pre_b" would get the new password but lacks what "priv_pre_a" can do/);
    expect(reason).toContain(`INSERT on public.${TABLE}`);
    expect(reason).toContain(`SELECT on public.${TABLE}`);
    expect(reason).toContain('GRANT priv_pre_a TO priv_pre_b');
    expect((await kvVersion(stack, 'priv-pre')).version).toBe(1);
    const pw = await su.query("SELECT rolpassword FROM pg_authid WHERE rolname = 'priv_pre_b'");
    expect(pw.rows[0].rolpassword).toBeNull(); // the standby never got a password
    expect(await canLogin(stack.file, before.data.username, before.data.password)).toBe(true);

    // The fix the message names works.
    await su.query('GRANT priv_pre_a TO priv_pre_b');
    expect(await rotate(stack, 'priv-pre')).toMatchObject({ outcome: 'rotated', toVersion: 2 });
    const after = await kvVersion(stack, 'priv-pre');
    expect(await attempt(after.data, `INSERT INTO ${TABLE} VALUES (2, 'written with the new password')`)).toBeUndefined();
  });

  it('with provider.grantRole both users rotor creates are members of the group role, and each new password reads the table', async () => {
    const first = await kvVersion(stack, 'priv-group');
    expect(await attempt(first.data, `SELECT count(*) FROM ${TABLE}`)).toBeUndefined();
    expect(await rotate(stack, 'priv-group')).toMatchObject({ outcome: 'rotated', toVersion: 2 });
    const second = await kvVersion(stack, 'priv-group');
    expect(second.data.username).not.toBe(first.data.username);
    expect(await attempt(second.data, `SELECT count(*) FROM ${TABLE}`)).toBeUndefined();
    const members = await su.query(
      "SELECT m.rolname FROM pg_auth_members a JOIN pg_roles m ON m.oid = a.member JOIN pg_roles r ON r.oid = a.roleid WHERE r.rolname = 'priv_readers' ORDER BY 1",
    );
    expect(members.rows.map((r: { rolname: string }) => r.rolname)).toEqual(['priv_group_a', 'priv_group_b']);
  });

  it('provider.validationQuery catches what the comparison cannot see (a column grant) before promotion', async () => {
    const before = await kvVersion(stack, 'priv-col');
    expect(await attempt(before.data, `SELECT id FROM ${TABLE} LIMIT 1`)).toBeUndefined();
    const result = await rotate(stack, 'priv-col');
    expect(result).toMatchObject({ outcome: 'aborted', failedPhase: 'testing', currentVersion: 1 });
    expect(result.outcome === 'aborted' && result.reason).toMatch(
      /role "priv_col_b" logs in, but provider\.validationQuery failed: permission denied for table priv_orders/,
    );
    expect((await kvVersion(stack, 'priv-col')).version).toBe(1);
    expect(await canLogin(stack.file, before.data.username, before.data.password)).toBe(true);
    const pw = await su.query("SELECT rolpassword FROM pg_authid WHERE rolname = 'priv_col_b'");
    expect(pw.rows[0].rolpassword).toBeNull(); // the staged password was revoked again
  });
});

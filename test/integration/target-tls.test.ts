import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresProvider } from '../../activities/providers/postgres/provider.js';
import { postgresAdmin, postgresSpec, type PostgresCredential, type PostgresSsl } from '../../activities/providers/postgres/schema.js';
import { ProviderCaches } from '../../activities/providers/provider-caches.js';
import { CredentialRejectedError, TargetUnavailableError } from '../../activities/providers/provider.js';
import { postgresTlsCaFile } from '../../stack/postgres-server.js';
import { createCertificateAuthority } from '../../stack/self-signed-tls.js';
import { readStackFile, type StackFile } from '../../stack/up.js';
import { DEMO_ADMIN_PATH, kvVersion, postgresSecretYaml, rotate, roleNames, seed } from '../helpers/rotation-fixtures.js';
import { startTestStack, superuserClient, type TestStack } from '../helpers/test-stack.js';

/**
 * `provider.ssl` against the test cluster, which serves TLS with a CA of its own
 * (stack/postgres-server.ts): sessions are proven encrypted by PostgreSQL itself (pg_stat_ssl), a
 * wrong CA is refused naming provider.ssl, and with every statement logged no password of a
 * rotation reaches the server log. A database of this file's own, so only its sessions are counted.
 */
const suffix = randomBytes(4).toString('hex');
const DB = `tlscheck_${suffix}`;
const SECRET = `tls-${suffix}`;
/** Fails (division by zero) unless the session running it is encrypted: as provider.validationQuery, it checks every test login. */
const ENCRYPTED_ONLY = 'SELECT 1 / ssl::int FROM pg_stat_ssl WHERE pid = pg_backend_pid()';

describe('TLS to a PostgreSQL target (provider.ssl)', () => {
  let file: StackFile;
  let stack: TestStack;
  let su: pg.Client;
  let ca: string;
  let scratch: string;
  const caches = new ProviderCaches();

  beforeAll(async () => {
    file = await readStackFile('test');
    ca = postgresTlsCaFile(file.stateDir);
    if (!existsSync(ca)) throw new Error(`${ca} is missing: stack/postgres-server.ts could not set up TLS (is openssl installed?)`);
    scratch = await mkdtemp(join(file.stateDir, 'target-tls-'));
    su = await superuserClient(file, 'postgres');
    await su.query(`CREATE DATABASE ${DB}`);
    await su.query(`GRANT ALL ON DATABASE ${DB} TO rotor_admin WITH GRANT OPTION`);
    await su.query(`REVOKE CONNECT ON DATABASE ${DB} FROM PUBLIC`);
    const provider = `database: ${DB}, ssl: { mode: verify-full, caFile: "${ca}" }, validationQuery: "${ENCRYPTED_ONLY}" }`;
    stack = await startTestStack('tls', `secrets:\n${postgresSecretYaml(SECRET).replace('database: demo }', provider)}`);
  });

  afterAll(async () => {
    await caches.close();
    await stack?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
    if (!su) return;
    await su.query('ALTER SYSTEM RESET log_statement').catch(() => undefined);
    await su.query('SELECT pg_reload_conf()').catch(() => undefined);
    await su.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`).catch(() => undefined);
    for (const role of roleNames(SECRET)) await su.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await su.end();
  });

  /** Every session of `user` on this file's database, and whether PostgreSQL says it is encrypted. */
  async function sessionsOf(user: string): Promise<{ ssl: boolean; version: string | null }[]> {
    const rows = await su.query<{ ssl: boolean; version: string | null }>(
      'SELECT s.ssl, s.version FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.datname = $1 AND a.usename = $2',
      [DB, user],
    );
    return rows.rows;
  }

  /** A provider of this file's database with `ssl`, checking every test login with ENCRYPTED_ONLY. */
  async function providerWith(ssl: PostgresSsl | undefined) {
    const admin = postgresAdmin.parse((await stack.rootVault.kvRead<Record<string, string>>('rotor', DEMO_ADMIN_PATH))!.data);
    const spec = postgresSpec.parse({
      type: 'postgres',
      adminPath: DEMO_ADMIN_PATH,
      users: roleNames(SECRET),
      database: DB,
      validationQuery: ENCRYPTED_ONLY,
      ...(ssl ? { ssl } : {}),
    });
    const provider = postgresProvider(spec, { admin, database: DB, ...(spec.ssl ? { ssl: spec.ssl } : {}) }, caches);
    // The admin role can log in to the database: the provider's test login, as any credential's.
    const login: PostgresCredential = { ...admin, database: DB };
    return { provider, login, admin };
  }

  async function failureOf(work: Promise<unknown>): Promise<Error> {
    const outcome = await work.then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    if (!outcome) throw new Error('expected a failure, the call succeeded');
    return outcome;
  }

  it('seeds and rotates with verify-full: test logins encrypted, and with every statement logged no password reaches the log', async () => {
    // Every statement of every session, for this rotation only (restored below and in afterAll).
    await su.query("ALTER SYSTEM SET log_statement = 'all'");
    await su.query('SELECT pg_reload_conf()');
    for (let i = 0; (await su.query<{ log_statement: string }>('SHOW log_statement')).rows[0]?.log_statement !== 'all'; i++) {
      if (i > 50) throw new Error('log_statement did not become "all" after pg_reload_conf()');
      await new Promise((r) => setTimeout(r, 100));
    }
    const logFile = join(file.stateDir, 'postgres.log');
    const from = (await stat(logFile)).size;
    try {
      expect(await seed(stack, SECRET)).toBe(1);
      // validationQuery (ENCRYPTED_ONLY) runs as the new credential at test and post-validation: a
      // plaintext session would have failed the rotation.
      expect(await rotate(stack, SECRET)).toMatchObject({ outcome: 'rotated', toVersion: 2 });
    } finally {
      await su.query('ALTER SYSTEM RESET log_statement');
      await su.query('SELECT pg_reload_conf()');
    }
    const [first, second] = [await kvVersion(stack, SECRET, 1), await kvVersion(stack, SECRET, 2)];
    expect(second.data.username).not.toBe(first.data.username);

    const handle = await open(logFile, 'r');
    let logged: string;
    try {
      const { size } = await handle.stat();
      const buffer = Buffer.alloc(size - from);
      await handle.read(buffer, 0, buffer.length, from);
      logged = buffer.toString('utf8');
    } finally {
      await handle.close();
    }
    // The statements were logged (so their absence below means something): the verifier, never the value.
    for (const { data } of [first, second])
      expect(logged).toContain(`ALTER ROLE "${data.username}" WITH LOGIN PASSWORD 'SCRAM-SHA-256$4096:`);
    expect(logged).toContain(ENCRYPTED_ONLY);
    for (const { data } of [first, second]) expect(logged).not.toContain(data.password);
  });

  it.each([
    ['verify-full', true],
    ['verify-ca', true],
    ['require', false],
    ['prefer', false],
  ] as const)('mode %s: the test login and the admin sessions are encrypted', async (mode, withCa) => {
    const { provider, login, admin } = await providerWith({ mode, ...(withCa ? { caFile: ca } : {}) });
    await provider.test(login); // ENCRYPTED_ONLY: refused on a plaintext session
    await provider.activeSessions!(login); // through the admin pool, which keeps its session idle for 5 s
    const sessions = await sessionsOf(admin.username);
    expect(sessions.length).toBeGreaterThan(0);
    for (const session of sessions) expect(session).toMatchObject({ ssl: true, version: expect.stringMatching(/^TLSv1\.[23]$/) });
    await caches.close(); // the next case opens its own sessions
  });

  it('mode disable (and no ssl block) is plaintext: the encrypted-only query refuses the login', async () => {
    for (const ssl of [{ mode: 'disable' } as const, undefined]) {
      const { provider, login } = await providerWith(ssl);
      const err = await failureOf(provider.test(login));
      expect(err).toBeInstanceOf(CredentialRejectedError);
      expect(err.message).toMatch(/division by zero/);
    }
  });

  it('verify-full with a CA that did not sign the server certificate is refused, naming provider.ssl', async () => {
    const wrong = await createCertificateAuthority(scratch, 'wrong-ca');
    const { provider, login, admin } = await providerWith({ mode: 'verify-full', caFile: wrong.cert });
    const testErr = await failureOf(provider.test(login));
    expect(testErr).toBeInstanceOf(TargetUnavailableError);
    expect(testErr.message).toMatch(
      /provider\.ssl \(mode verify-full\): the certificate of PostgreSQL at .* is not signed by the CA in provider\.ssl\.caFile/,
    );
    const adminErr = await failureOf(provider.precheck!(login));
    expect(adminErr).toBeInstanceOf(TargetUnavailableError);
    expect(adminErr.message).toMatch(/as the admin role: provider\.ssl \(mode verify-full\)/);
    expect(adminErr.message).not.toContain(admin.password);
  });

  it('verify-full without caFile checks against the CAs Node trusts, which do not include a private CA', async () => {
    const { provider, login } = await providerWith({ mode: 'verify-full' });
    expect((await failureOf(provider.test(login))).message).toMatch(/not signed by a CA Node trusts .*set provider\.ssl\.caFile/);
  });

  it('a caFile the worker cannot read names the field and the fix', async () => {
    const missing = join(scratch, 'absent-ca.pem');
    const { provider, login } = await providerWith({ mode: 'verify-ca', caFile: missing });
    const err = await failureOf(provider.test(login));
    expect(err).toBeInstanceOf(TargetUnavailableError);
    expect(err.message).toContain(`provider.ssl.caFile: cannot read ${missing} on this worker (ENOENT)`);
  });
});

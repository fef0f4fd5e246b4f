import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate, type TLSSocket } from 'node:tls';
import mysql from 'mysql2/promise';
import type { ProviderCaches } from '../provider-caches.js';
import { TargetUnavailableError } from '../provider.js';
import type { MysqlTls } from './schema.js';
import { readCaFile } from '../ca-file.js';

/**
 * The stored form of a password under `mysql_native_password`: `*` and the upper-case hex of
 * SHA1(SHA1(password)). rotor sends this, never the password, in `IDENTIFIED … AS '<hash>'`, so no
 * statement text (general log, processlist, an error) holds anything that logs in.
 */
export function nativePasswordHash(password: string): string {
  const inner = createHash('sha1').update(password, 'utf8').digest();
  return `*${createHash('sha1').update(inner).digest('hex').toUpperCase()}`;
}

/**
 * Limits on every admin session (set on connect): without them one blocked ALTER USER holds the
 * create-user lock, and with it every rotation on the target, for as long as whoever blocks it likes.
 * - lock_wait_timeout 5 s: metadata locks on the grant tables are held for milliseconds by rotor.
 * - max_statement_time 20 s (MariaDB only; MySQL has no equivalent for DDL): under the shortest
 *   start-to-close of a target step (30 s), so a stuck statement ends as a retryable error.
 */
export const TARGET_SESSION_LIMITS = { lock_wait_timeout: 5, max_statement_time: 20, get_lock_timeout: 5 } as const;

/** MySQL/MariaDB error numbers that mean "this credential is refused", as opposed to "cannot tell". */
export const REFUSED_ERRNOS = new Set([
  1045, // ER_ACCESS_DENIED_ERROR (wrong password, unknown user, REQUIRE SSL without TLS)
  1044, // ER_DBACCESS_DENIED_ERROR (logged in, but may not use the database)
  3118, // MySQL ER_ACCOUNT_HAS_BEEN_LOCKED
  4151, // MariaDB ER_ACCOUNT_HAS_BEEN_LOCKED (mysql2 names it after a MySQL code of the same number)
]);

/** Error numbers of a statement that waited too long for a lock or ran out of time: retry it. */
const LOCK_WAIT_ERRNOS = new Set([
  1205, // ER_LOCK_WAIT_TIMEOUT (row and metadata locks: lock_wait_timeout, innodb_lock_wait_timeout)
  1969, // MariaDB ER_STATEMENT_TIMEOUT (max_statement_time)
  3024, // MySQL ER_QUERY_TIMEOUT
  1213, // ER_LOCK_DEADLOCK
]);

/** A statement the server cancelled because it waited for `what` too long, as a retryable error; otherwise undefined. */
export function lockWaitError(err: unknown, what: string): TargetUnavailableError | undefined {
  const errno = (err as { errno?: number }).errno;
  if (errno === undefined || !LOCK_WAIT_ERRNOS.has(errno)) return undefined;
  return new TargetUnavailableError(
    `${what} is locked by another session or the statement ran too long (lock_wait_timeout ${TARGET_SESSION_LIMITS.lock_wait_timeout} s, ` +
      `max_statement_time ${TARGET_SESSION_LIMITS.max_statement_time} s); retried`,
  );
}

/** Where a target is: the admin credential's host and port. */
export interface TargetEndpoint {
  host: string;
  port: number;
}

/**
 * mysql2's `ssl` option for a TLS mode:
 * - `disable` (or unset): plaintext.
 * - `require`: TLS always, refused when the server does not offer it; the server is not verified.
 * - `verify-ca`: the certificate must chain to `caFile` (or a CA Node trusts); the name is not checked.
 * - `verify-full`: as verify-ca, and the certificate must name the host (checked again after
 *   connecting when the host is an IP address, which mysql2 itself skips: see verifyPeerName).
 */
export async function targetSsl(tls: MysqlTls | undefined): Promise<mysql.SslOptions | undefined> {
  switch (tls?.mode ?? 'disable') {
    case 'disable':
      return undefined;
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
      return {
        rejectUnauthorized: true,
        verifyIdentity: false,
        ...(tls?.caFile ? { ca: await readCaFile(tls.caFile, 'provider.tls.caFile') } : {}),
      };
    case 'verify-full':
      return {
        rejectUnauthorized: true,
        verifyIdentity: true,
        ...(tls?.caFile ? { ca: await readCaFile(tls.caFile, 'provider.tls.caFile') } : {}),
      };
  }
}

/** The mysql2 options of a session at the target as `login` (every session rotor opens there). */
export async function targetConnectionOptions(
  endpoint: TargetEndpoint,
  tls: MysqlTls | undefined,
  login: { user: string; password: string; database?: string },
): Promise<mysql.ConnectionOptions> {
  const ssl = await targetSsl(tls);
  return {
    host: endpoint.host,
    port: endpoint.port,
    ...login,
    connectTimeout: 5_000,
    // Only what rotor needs: no LOAD DATA LOCAL, no multiple statements in one query.
    multipleStatements: false,
    ...(ssl ? { ssl } : {}),
  };
}

/**
 * The `ssl` objects whose server name was checked on a full handshake. mysql2 resumes TLS sessions
 * per `ssl` object, and a resumed session has no peer certificate to check: it is trusted only
 * when a full handshake with the same object passed the check (mysql2 caches a session even when
 * this check then failed, so "resumed" alone proves nothing).
 */
const nameChecked = new WeakSet<object>();

/**
 * mysql2 checks the certificate's name only for a DNS host; with verify-full and an IP address
 * the certificate must carry it as an IP SAN, checked here on the live TLS socket.
 */
export function verifyPeerName(conn: mysql.Connection, endpoint: TargetEndpoint, tls: MysqlTls | undefined): void {
  if (tls?.mode !== 'verify-full' || !isIP(endpoint.host)) return;
  const core = (conn as unknown as { connection: { stream: TLSSocket; config: { ssl: object } } }).connection;
  const stream = core.stream;
  let failure: Error | undefined;
  if (typeof stream.getPeerCertificate !== 'function') failure = new Error('no TLS session');
  else if (stream.isSessionReused()) {
    if (!nameChecked.has(core.config.ssl)) failure = new Error('a resumed TLS session whose certificate was never checked');
  } else {
    failure = checkServerIdentity(endpoint.host, stream.getPeerCertificate() as PeerCertificate);
    if (!failure) nameChecked.add(core.config.ssl);
  }
  if (failure) {
    conn.destroy();
    throw Object.assign(new Error(failure.message), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  }
}

/** A connected session; the caller ends it. */
export async function connectTarget(
  endpoint: TargetEndpoint,
  tls: MysqlTls | undefined,
  login: { user: string; password: string; database?: string },
): Promise<mysql.Connection> {
  const conn = await mysql.createConnection(await targetConnectionOptions(endpoint, tls, login));
  conn.on('error', () => undefined); // a connection lost later fails its call, never the worker
  verifyPeerName(conn, endpoint, tls);
  return conn;
}

/**
 * Admin connections are pooled per target, admin user and TLS setting (a login and a TLS handshake
 * cost more than the statements they run); the pool is replaced when the admin password changes.
 */
export function adminPool(
  caches: ProviderCaches,
  options: mysql.PoolOptions,
  tls: MysqlTls | undefined,
  admin: { username: string; password: string },
): mysql.Pool {
  const key = `mysql-admin|${options.host}:${options.port}/${admin.username}|${tls?.mode ?? 'disable'}:${tls?.caFile ?? ''}`;
  return caches.pooled(key, admin.password, () => {
    const pool = mysql.createPool({ ...options, connectionLimit: 4, maxIdle: 2, idleTimeout: 5_000, enableKeepAlive: true });
    pool.pool.on('connection', (conn) => {
      // An idle connection dropped by the server: the next checkout reconnects; the worker must not crash.
      conn.on('error', () => undefined);
      // Queued before the first statement of whoever checked the connection out.
      conn.query(
        `SET SESSION lock_wait_timeout = ${TARGET_SESSION_LIMITS.lock_wait_timeout}, innodb_lock_wait_timeout = ${TARGET_SESSION_LIMITS.lock_wait_timeout}`,
        () => undefined,
      );
      // MariaDB only (MySQL answers "unknown system variable", ignored).
      conn.query(`SET SESSION max_statement_time = ${TARGET_SESSION_LIMITS.max_statement_time}`, () => undefined);
    });
    return { pool, close: () => pool.end() };
  });
}

const CHAIN_ERRORS = /CERT|ISSUER|SELF_SIGNED|LEAF_SIGNATURE|UNABLE_TO_VERIFY/;

/**
 * Why a connection failed, for an error message: TLS failures name `provider.tls` and the fix,
 * as nothing in mysql2's own message points there. Callers scrub it.
 */
export function connectFailure(err: unknown, { host, port }: TargetEndpoint, tls: MysqlTls | undefined): string {
  const message = (err as Error).message;
  if (err instanceof TargetUnavailableError) return message;
  const code = (err as { code?: string }).code ?? '';
  const mode = `provider.tls (mode ${tls?.mode ?? 'disable'})`;
  if (code === 'HANDSHAKE_NO_SSL_SUPPORT')
    return `${mode}: the server at ${host}:${port} does not offer TLS; turn it on at the server (ssl-cert, ssl-key), or set provider.tls.mode to disable`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return `${mode}: the certificate of the server at ${host}:${port} does not name "${host}" (${message}); connect by a name it carries (the admin credential's host) or use mode verify-ca`;
  if (CHAIN_ERRORS.test(code))
    return tls?.caFile
      ? `${mode}: the certificate of the server at ${host}:${port} is not signed by the CA in provider.tls.caFile ${tls.caFile} (${message}); point caFile at the CA that signed it`
      : `${mode}: the certificate of the server at ${host}:${port} is not signed by a CA Node trusts (${message}); set provider.tls.caFile to the CA that signed it`;
  return message;
}

import { connect } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import type { ProviderCaches } from '../provider-caches.js';
import { TargetUnavailableError } from '../provider.js';
import type { PostgresSsl } from './schema.js';
import { readCaFile } from '../ca-file.js';

/**
 * Limits on every session rotor opens at a target (sent as startup parameters: no extra round
 * trip). Without them one blocked `ALTER ROLE` holds the create-role advisory lock, and with it
 * every rotation on the target, for as long as whoever blocks it likes.
 * - `lock_timeout` 5 s: the role row, the create-role advisory lock (`pg_advisory_xact_lock` waits
 *   count) and the database row are held for milliseconds by rotor; a longer wait means another
 *   session holds them, and failing (retried with backoff) beats holding our own locks behind it.
 * - `statement_timeout` 20 s: under the shortest start-to-close of a target step (30 s, local and
 *   emergency activities), so a stuck statement ends as a reported, retryable error rather than an
 *   activity timeout that leaves its session, and its locks, behind.
 * - `idle_in_transaction_session_timeout` 20 s: a worker stalled mid-transaction (paused, cut off)
 *   loses its session, and the locks it holds, instead of keeping them until TCP gives up.
 */
export const TARGET_SESSION_LIMITS = {
  lock_timeout: 5_000,
  statement_timeout: 20_000,
  idle_in_transaction_session_timeout: 20_000,
} as const;

/** Where a target database is: the admin credential's host and port, the secret's database. */
export interface TargetEndpoint {
  host: string;
  port: number;
  database: string;
}

/** A `prefer` probe's answer is kept this long per target: a server that turns TLS on is used with it within a minute. */
const PREFER_PROBE_MS = 60_000;

/**
 * Asks the server whether it speaks TLS (the SSLRequest packet: it answers one byte, `S` or `N`)
 * and hangs up, as libpq does before choosing under `prefer`.
 */
function offersTls({ host, port }: TargetEndpoint): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer to the TLS probe within 5 s')));
    socket.once('connect', () => socket.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])));
    socket.once('data', (answer) => {
      socket.destroy();
      resolve(answer[0] === 0x53); // 'S'
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('the server closed the connection before answering the TLS probe')));
  });
}

/**
 * node-postgres's `ssl` option for one of libpq's sslmodes (node-postgres has no sslmode of its
 * own, and its `sslmode` URL parameter does not follow libpq's meaning):
 * - `disable` (and no `ssl` block): plaintext.
 * - `prefer`: TLS when the server offers it (probed, see offersTls), plaintext otherwise; the
 *   server is not verified. Protects from a passive listener only: whoever can answer for the
 *   server can answer "no TLS".
 * - `require`: TLS always, refused when the server does not offer it; the server is not verified.
 * - `verify-ca`: TLS, and the server's certificate must chain to `caFile` (or, without one, to a CA
 *   Node trusts); the host name is not checked.
 * - `verify-full`: as verify-ca, and the certificate must name the host rotor connects to (the admin
 *   credential's `host`: a DNS name, or an IP address in the certificate's IP SANs).
 */
export async function targetSsl(
  caches: ProviderCaches,
  endpoint: TargetEndpoint,
  ssl: PostgresSsl | undefined,
): Promise<false | ConnectionOptions> {
  switch (ssl?.mode ?? 'disable') {
    case 'disable':
      return false;
    case 'prefer': {
      const key = `postgres-tls-probe|${endpoint.host}:${endpoint.port}`;
      const offered = await caches
        .remembered(key, PREFER_PROBE_MS, () => offersTls(endpoint))
        .catch((err: Error) => {
          throw new TargetUnavailableError(`cannot reach PostgreSQL at ${endpoint.host}:${endpoint.port}: ${err.message}`);
        });
      return offered ? { rejectUnauthorized: false } : false;
    }
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
      return {
        rejectUnauthorized: true,
        ...(ssl?.caFile ? { ca: await readCaFile(ssl.caFile, 'provider.ssl.caFile') } : {}),
        checkServerIdentity: () => undefined,
      };
    case 'verify-full':
      return { rejectUnauthorized: true, ...(ssl?.caFile ? { ca: await readCaFile(ssl.caFile, 'provider.ssl.caFile') } : {}) };
  }
}

/**
 * The node-postgres config of a session at a target as `login`: every session rotor opens there
 * (admin pool, test logins, session counts, break-glass checks) is configured here, so none skips
 * the session limits or `provider.ssl`.
 */
export async function targetConnectionConfig(
  caches: ProviderCaches,
  endpoint: TargetEndpoint,
  ssl: PostgresSsl | undefined,
  login: { user: string; password: string },
): Promise<pg.ClientConfig> {
  return {
    ...endpoint,
    ...login,
    connectionTimeoutMillis: 5000,
    ...TARGET_SESSION_LIMITS,
    ssl: await targetSsl(caches, endpoint, ssl),
  };
}

/** A connected client of `config`; a connection lost later fails its call, never the worker. */
export async function connectTarget(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(config);
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return client;
}

const CHAIN_ERRORS = /CERT|ISSUER|SELF_SIGNED|LEAF_SIGNATURE|UNABLE_TO_VERIFY/;

/**
 * Why a connection to a target failed, for an error message: TLS failures name `provider.ssl` and
 * the fix, as nothing in node-postgres's own message points there. Callers scrub it.
 */
export function connectFailure(err: unknown, { host, port }: TargetEndpoint, ssl: PostgresSsl | undefined): string {
  const message = (err as Error).message;
  if (err instanceof TargetUnavailableError) return message; // already says what to fix
  const code = (err as { code?: string }).code ?? '';
  const mode = `provider.ssl (mode ${ssl?.mode ?? 'disable'})`;
  if (/does not support SSL/i.test(message))
    return `${mode}: PostgreSQL at ${host}:${port} does not offer TLS; turn ssl on at the server, or set provider.ssl.mode to prefer or disable`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return `${mode}: the certificate of PostgreSQL at ${host}:${port} does not name "${host}" (${message}); connect by a name it carries (the admin credential's host) or use mode verify-ca`;
  if (CHAIN_ERRORS.test(code))
    return ssl?.caFile
      ? `${mode}: the certificate of PostgreSQL at ${host}:${port} is not signed by the CA in provider.ssl.caFile ${ssl.caFile} (${message}); point caFile at the CA that signed it`
      : `${mode}: the certificate of PostgreSQL at ${host}:${port} is not signed by a CA Node trusts (${message}); set provider.ssl.caFile to the CA that signed it`;
  if (ssl && ssl.mode !== 'disable' && /SSL|TLS/.test(`${code} ${message}`))
    return `${mode}: TLS to PostgreSQL at ${host}:${port} failed: ${message}`;
  return message;
}

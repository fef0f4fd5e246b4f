import { chmod, chown, copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import type { Ports } from './ports.js';
import { info } from './progress.js';
import { runCommand } from './run-command.js';
import { createCertificateAuthority, issueCertificate } from './self-signed-tls.js';
import { StackError } from './stack-error.js';
import { waitFor } from './wait-for.js';

export interface PostgresServer {
  host: string;
  port: number;
  superuser: string;
  superuserPassword: string;
  stop(): Promise<void>;
}

interface RunAs {
  uid?: number;
  gid?: number;
}

/** PostgreSQL refuses to run as root: as root we run it as the `postgres` user; otherwise as ourselves. */
async function runAs(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {};
  const passwd = await readFile('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) {
    throw new StackError(
      'running as root, and PostgreSQL refuses to run as root, but there is no `postgres` user to run it as',
      "install Debian's postgresql package (it creates the user) or run `useradd --system postgres`, or run rotor as a non-root user",
    );
  }
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Stops this state dir's postmaster (fast shutdown: sessions are ended), as a launcher or an outage test does. */
export async function stopPostgres(pgBin: string, stateDir: string): Promise<void> {
  await runCommand(join(pgBin, 'pg_ctl'), ['-D', join(stateDir, 'postgres'), '-m', 'fast', '-w', 'stop'], await runAs());
}

/** A postmaster of this state dir left over from a launcher that was killed: stop it (it holds our port). */
export async function stopLeftoverPostgres(pgBin: string, stateDir: string): Promise<void> {
  const dataDir = join(stateDir, 'postgres');
  if (!existsSync(join(dataDir, 'postmaster.pid'))) return;
  const as = await runAs();
  const pgCtl = join(pgBin, 'pg_ctl');
  const status = await runCommand(pgCtl, ['-D', dataDir, 'status'], as);
  if (status.code !== 0) return;
  info(`stopping PostgreSQL (${dataDir}) left over from an earlier run`);
  await stopPostgres(pgBin, stateDir);
}

/** The CA that signed the local cluster's server certificate (for `provider.ssl.caFile`); absent when TLS could not be set up. */
export function postgresTlsCaFile(stateDir: string): string {
  return join(stateDir, 'postgres-tls', 'ca.pem');
}

/**
 * TLS for the local cluster, so targets with `provider.ssl` can be tried here: a CA of its own in
 * <state>/postgres-tls and a server certificate for 127.0.0.1/localhost in the data dir (where
 * PostgreSQL looks for server.crt/server.key by default). Made once and reused. Plaintext sessions
 * keep working (pg_hba's `host` lines accept both). False, and the cluster runs without TLS, when
 * the certificates cannot be made (no openssl): nothing but the TLS tests needs them.
 */
async function ensureServerTls(stateDir: string, dataDir: string, own: (path: string) => Promise<void>): Promise<boolean> {
  const tlsDir = join(stateDir, 'postgres-tls');
  const serverCert = join(dataDir, 'server.crt');
  const serverKey = join(dataDir, 'server.key');
  // server.crt is written last: with it and the CA present, everything is.
  if (existsSync(serverCert) && existsSync(postgresTlsCaFile(stateDir))) return true;
  try {
    await rm(tlsDir, { recursive: true, force: true });
    await mkdir(tlsDir, { recursive: true, mode: 0o700 });
    const ca = await createCertificateAuthority(tlsDir, 'ca');
    const server = await issueCertificate(ca, tlsDir, 'server', { altNames: ['IP:127.0.0.1', 'DNS:localhost'] });
    // PostgreSQL refuses a key readable by others or owned by another user; renamed into place whole.
    for (const [from, to] of [
      [server.key, serverKey],
      [server.cert, serverCert],
    ] as const) {
      await copyFile(from, `${to}.tmp`);
      await chmod(`${to}.tmp`, 0o600);
      await own(`${to}.tmp`);
      await rename(`${to}.tmp`, to);
    }
    return true;
  } catch (err) {
    info(`PostgreSQL runs without TLS (provider.ssl cannot be tried locally): ${(err as Error).message}`);
    return false;
  }
}

export async function startPostgres(pgBin: string, stateDir: string, ports: Ports): Promise<PostgresServer> {
  const as = await runAs();
  const dataDir = join(stateDir, 'postgres');
  const socketDir = join(stateDir, 'pg-socket');
  const logFile = join(stateDir, 'postgres.log');
  const passwordFile = join(stateDir, 'postgres-superuser.password');
  const own = async (path: string) => {
    if (as.uid !== undefined) await chown(path, as.uid, as.gid!);
  };
  await mkdir(socketDir, { recursive: true });
  await own(socketDir);
  await writeFile(logFile, '', { flag: 'a' });
  await own(logFile);

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    // A data dir without PG_VERSION is a half-finished initdb from an interrupted run: start over.
    await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir, { mode: 0o700 });
    await own(dataDir);
    const password = randomBytes(24).toString('base64url');
    await writeFile(passwordFile, password, { mode: 0o600 });
    const pwTmp = join(socketDir, 'initdb.pw');
    await writeFile(pwTmp, password, { mode: 0o600 });
    await own(pwTmp);
    const result = await runCommand(
      join(pgBin, 'initdb'),
      [
        '-D',
        dataDir,
        '-U',
        'postgres',
        `--pwfile=${pwTmp}`,
        '--auth-local=scram-sha-256',
        '--auth-host=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
      ],
      { ...as, logFile: undefined },
    );
    await rm(pwTmp, { force: true });
    if (result.code !== 0) {
      await writeFile(logFile, result.stdout + result.stderr, { flag: 'a' });
      throw new StackError(
        `initdb failed (exit ${result.code}): ${result.stderr.trim().split('\n').pop()}`,
        'read the log; the postgres user must be able to reach the state dir (every parent folder needs o+x)',
        logFile,
      );
    }
  }
  const superuserPassword = (await readFile(passwordFile, 'utf8')).trim();
  const pgCtl = join(pgBin, 'pg_ctl');
  const tls = await ensureServerTls(stateDir, dataDir, own);
  const options = `-p ${ports.postgres} -k ${socketDir} -c listen_addresses=127.0.0.1 -c max_connections=200${tls ? ' -c ssl=on' : ''}`;
  const start = await runCommand(pgCtl, ['-D', dataDir, '-l', logFile, '-o', options, '-w', '-t', '60', 'start'], as);
  if (start.code !== 0) {
    throw new StackError(
      `PostgreSQL did not start (exit ${start.code}): ${start.stderr.trim() || start.stdout.trim()}`,
      'read the log; a stale lock is cleared by stopping the old server or `npm run stack -- reset`',
      logFile,
    );
  }
  const server: PostgresServer = {
    host: '127.0.0.1',
    port: ports.postgres,
    superuser: 'postgres',
    superuserPassword,
    stop: () => stopPostgres(pgBin, stateDir),
  };
  try {
    await waitFor(
      'PostgreSQL',
      async () => {
        const client = new pg.Client({
          host: server.host,
          port: server.port,
          user: 'postgres',
          password: superuserPassword,
          database: 'postgres',
        });
        await client.connect();
        await client.end();
        return true;
      },
      30_000,
    );
  } catch (err) {
    await server.stop();
    throw new StackError(`PostgreSQL is not accepting connections: ${(err as Error).message}`, 'read the log', logFile);
  }
  await chmod(passwordFile, 0o600);
  return server;
}

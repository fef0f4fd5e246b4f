import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import type { Ports } from './ports.js';
import { info } from './progress.js';
import { runCommand } from './run-command.js';
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
  const options = `-p ${ports.postgres} -k ${socketDir} -c listen_addresses=127.0.0.1 -c max_connections=200`;
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

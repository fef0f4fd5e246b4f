import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Tools } from './tools.js';
import { startProcess, type ManagedProcess } from './managed-process.js';
import { runCommand } from './run-command.js';
import { createCertificateAuthority, issueCertificate } from './self-signed-tls.js';
import { StackError } from './stack-error.js';
import { waitFor } from './wait-for.js';

/** A MariaDB server of rotor's own (data dir, port, TLS) for the mysql provider's demo and tests. */
export interface MariadbServer {
  host: string;
  port: number;
  /** `root`@`127.0.0.1`: every privilege, password in <state>/mariadb-root.password. */
  rootUser: string;
  rootPassword: string;
  /** The CA of the server's certificate (for `provider.tls` and REQUIRE SSL users). */
  caFile: string;
  proc: ManagedProcess;
  stop(): Promise<void>;
}

/** mariadbd refuses root unless told; as root it runs as Debian's `mysql` user. */
async function runAsUser(): Promise<{ name: string; uid?: number; gid?: number }> {
  if (process.getuid?.() !== 0) return { name: '' };
  const line = (await readFile('/etc/passwd', 'utf8')).split('\n').find((l) => l.startsWith('mysql:'));
  if (!line)
    throw new StackError(
      'running as root and there is no `mysql` user to run MariaDB as',
      "install Debian's mariadb-server package (it creates the user)",
    );
  const [, , uid, gid] = line.split(':');
  return { name: 'mysql', uid: Number(uid), gid: Number(gid) };
}

async function ensureTls(dir: string, own: (path: string) => Promise<void>): Promise<{ ca: string; cert: string; key: string }> {
  const files = { ca: join(dir, 'ca.pem'), cert: join(dir, 'server-cert.pem'), key: join(dir, 'server-key.pem') };
  if (existsSync(files.cert) && existsSync(files.ca)) return files;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const ca = await createCertificateAuthority(dir, 'ca');
  const server = await issueCertificate(ca, dir, 'server', { altNames: ['IP:127.0.0.1', 'DNS:localhost'] });
  await copyFile(server.key, `${files.key}.tmp`);
  await chmod(`${files.key}.tmp`, 0o600);
  await own(`${files.key}.tmp`);
  await rename(`${files.key}.tmp`, files.key);
  await copyFile(ca.cert, files.ca);
  await copyFile(server.cert, files.cert); // last: with it present, everything is
  return files;
}

/**
 * Starts MariaDB on 127.0.0.1:`port` with its data in <state>/mariadb (initialised once), TLS
 * available (not required: a user created `REQUIRE SSL` needs it), and `root`@`127.0.0.1` with a
 * password of its own. Idempotent across restarts.
 */
export async function startMariadb(tools: Tools['mariadb'], stateDir: string, port: number): Promise<MariadbServer> {
  const as = await runAsUser();
  const own = async (path: string) => {
    if (as.uid !== undefined) await chown(path, as.uid, as.gid!);
  };
  const dataDir = join(stateDir, 'mariadb');
  const runDir = join(stateDir, 'mariadb-run');
  const socket = join(runDir, 'mariadb.sock');
  const logFile = join(stateDir, 'mariadb.log');
  const passwordFile = join(stateDir, 'mariadb-root.password');
  await mkdir(runDir, { recursive: true });
  await own(runDir);
  await writeFile(logFile, '', { flag: 'a' });
  await own(logFile);
  const tls = await ensureTls(join(stateDir, 'mariadb-tls'), own);
  const userArgs = as.uid !== undefined ? [`--user=${as.name}`] : [];

  const initialised = existsSync(join(dataDir, 'mysql', 'user.frm')) || existsSync(join(dataDir, 'mysql', 'global_priv.frm'));
  if (!initialised || !existsSync(passwordFile)) {
    // A data dir without the grant tables (or without our password file) is an interrupted set-up: start over.
    await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir, { mode: 0o750 });
    await own(dataDir);
    const result = await runCommand(
      tools.installDb,
      [`--datadir=${dataDir}`, ...userArgs, '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve'],
      { logFile },
    );
    if (result.code !== 0)
      throw new StackError(
        `mariadb-install-db failed (exit ${result.code}): ${result.stderr.trim().split('\n').pop()}`,
        'read the log',
        logFile,
      );
  }
  // A killed server leaves its socket and pid file behind: a stale socket would pass for a live server.
  await rm(socket, { force: true });
  await rm(join(runDir, 'mariadb.pid'), { force: true });
  const proc = startProcess(
    'mariadb',
    tools.server,
    [
      '--no-defaults',
      `--datadir=${dataDir}`,
      ...userArgs,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${socket}`,
      `--pid-file=${join(runDir, 'mariadb.pid')}`,
      `--log-error=${logFile}`,
      '--skip-name-resolve',
      `--ssl-ca=${tls.ca}`,
      `--ssl-cert=${tls.cert}`,
      `--ssl-key=${tls.key}`,
      '--max-connections=300',
    ],
    logFile,
  );
  const stop = () => proc.stop();
  try {
    // Ready when a real login works: over the socket as root on the first start (no password
    // yet), afterwards as root@127.0.0.1 over TCP with the password.
    const firstStart = !existsSync(passwordFile);
    await waitFor(
      'MariaDB',
      async () => {
        const probe = firstStart
          ? await runCommand('mariadb', ['--no-defaults', `--socket=${socket}`, '-uroot', '-e', 'SELECT 1'])
          : await runCommand('mariadb', ['--no-defaults', '-h127.0.0.1', `-P${port}`, '-uroot', '-e', 'SELECT 1'], {
              env: { ...process.env, MYSQL_PWD: (await readFile(passwordFile, 'utf8')).trim() },
            });
        if (probe.code !== 0) throw new Error(probe.stderr.trim());
        return true;
      },
      60_000,
      () => (proc.child.exitCode !== null ? `mariadbd exited with code ${proc.child.exitCode}` : undefined),
    );
    if (firstStart) {
      // First start: root@localhost has no password over the socket; give TCP root one.
      const password = randomBytes(24).toString('base64url');
      const sql = [
        `CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '${password}';`,
        // mariadb-install-db may have made it already (without a password): set it either way.
        `ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '${password}';`,
        `GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;`,
        `ALTER USER 'root'@'localhost' IDENTIFIED BY '${password}';`,
      ].join('\n');
      const set = await runCommand('mariadb', ['--no-defaults', `--socket=${socket}`, '-uroot'], { input: sql });
      if (set.code !== 0) throw new StackError(`could not set MariaDB's root password: ${set.stderr.trim()}`, 'read the log', logFile);
      await writeFile(passwordFile, password, { mode: 0o600 });
    }
  } catch (err) {
    await stop();
    throw err instanceof StackError ? err : new StackError(`MariaDB did not start: ${(err as Error).message}`, 'read the log', logFile);
  }
  const rootPassword = (await readFile(passwordFile, 'utf8')).trim();
  return { host: '127.0.0.1', port, rootUser: 'root', rootPassword, caFile: tls.ca, proc, stop };
}

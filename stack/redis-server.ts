import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { startProcess, type ManagedProcess } from './managed-process.js';
import { StackError } from './stack-error.js';
import { waitFor } from './wait-for.js';

/** A Redis server of rotor's own for the redis-acl provider's demo and tests. */
export interface RedisServer {
  host: string;
  port: number;
  /** The `default` user's password (every command), in <state>/redis-default.password. */
  defaultPassword: string;
  /** ACL users live in this file: `ACL SAVE` keeps what rotor changed across restarts. */
  aclFile: string;
  proc: ManagedProcess;
  stop(): Promise<void>;
}

/** True once Redis answers PING (NOAUTH counts: it is up). */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => socket.write('PING\r\n'));
    socket.setTimeout(1000, () => socket.destroy());
    socket.once('data', (chunk) => {
      socket.destroy();
      resolve(/^[+-]/.test(chunk.toString()));
    });
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
}

/**
 * Starts Redis on 127.0.0.1:`port` with its data and ACL file in <state>/redis. The first start
 * writes the ACL file with the `default` user's password as a SHA-256 (never the password itself).
 */
export async function startRedis(redisServer: string, stateDir: string, port: number): Promise<RedisServer> {
  const dir = join(stateDir, 'redis');
  const aclFile = join(dir, 'users.acl');
  const passwordFile = join(stateDir, 'redis-default.password');
  const logFile = join(stateDir, 'redis.log');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(passwordFile) || !existsSync(aclFile)) {
    const password = randomBytes(24).toString('base64url');
    const hash = createHash('sha256').update(password).digest('hex');
    await writeFile(aclFile, `user default on #${hash} ~* &* +@all\n`, { mode: 0o600 });
    await writeFile(passwordFile, password, { mode: 0o600 });
  }
  const proc = startProcess(
    'redis',
    redisServer,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--aclfile',
      aclFile,
      '--daemonize',
      'no',
      '--save',
      '60 1',
      '--appendonly',
      'no',
      // Keeps the arguments (the state dir) in /proc/<pid>/cmdline, where a later launcher looks for them.
      '--set-proc-title',
      'no',
      '--logfile',
      '',
    ],
    logFile,
  );
  const stop = () => proc.stop();
  try {
    await waitFor(
      'Redis',
      () => answers(port),
      30_000,
      () => (proc.child.exitCode !== null ? `redis-server exited with code ${proc.child.exitCode}` : undefined),
    );
  } catch (err) {
    await stop();
    throw new StackError(`Redis did not start: ${(err as Error).message}`, 'read the log', logFile);
  }
  const defaultPassword = (await readFile(passwordFile, 'utf8')).trim();
  return { host: '127.0.0.1', port, defaultPassword, aclFile, proc, stop };
}

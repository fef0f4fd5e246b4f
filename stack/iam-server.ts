import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startProcess, type ManagedProcess } from './managed-process.js';
import { StackError } from './stack-error.js';
import { waitFor } from './wait-for.js';

/**
 * The local IAM-compatible endpoint (moto in server mode) the aws-iam-access-key provider is tried
 * against; never the internet. moto keeps its state in memory: every start is an empty account.
 */
export interface IamServer {
  /** e.g. http://127.0.0.1:15016 */
  endpoint: string;
  region: string;
  proc: ManagedProcess;
  stop(): Promise<void>;
}

export const IAM_REGION = 'us-east-1';

/** Starts moto's server with the virtualenv's python, through a script in the state dir (so a later launcher knows the pid is ours). */
export async function startIam(motoPython: string, stateDir: string, port: number): Promise<IamServer> {
  const dir = join(stateDir, 'iam');
  await mkdir(dir, { recursive: true });
  const script = join(dir, 'moto-server.py');
  await writeFile(script, 'from moto.server import main\n\nmain()\n');
  const logFile = join(stateDir, 'iam.log');
  const proc = startProcess('iam', motoPython, [script, '-H', '127.0.0.1', '-p', String(port)], logFile, {
    ...process.env,
    // Requests are signed for this region; the account is moto's default.
    AWS_DEFAULT_REGION: IAM_REGION,
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = () => proc.stop();
  try {
    await waitFor(
      'the IAM endpoint (moto)',
      async () => (await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(2000) })).ok,
      60_000,
      () => (proc.child.exitCode !== null ? `moto exited with code ${proc.child.exitCode}` : undefined),
    );
  } catch (err) {
    await stop();
    throw new StackError(`the IAM endpoint did not start: ${(err as Error).message}`, 'read the log', logFile);
  }
  return { endpoint, region: IAM_REGION, proc, stop };
}

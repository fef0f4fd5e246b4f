import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT } from '../../config/repo-root.js';
import type { StackConnection } from './test-stack.js';
import { operatorToken, type OperatorName } from './operators.js';

/** How one `node cli/rotor.js …` process ended. */
export interface CliRun {
  args: string[];
  /** The exit code; null when a signal (or the timeout below) ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunningCli {
  child: ChildProcess;
  /** What the process printed so far. */
  output(): { stdout: string; stderr: string };
  done: Promise<CliRun>;
}

export interface CliOptions {
  env: NodeJS.ProcessEnv;
  /** Killed (SIGKILL) after this long; the run then reports timedOut. */
  timeoutMs?: number;
}

const running = new Set<ChildProcess>();

/** The worker's own credentials: an operator's CLI must never need them. */
const WORKER_ONLY = ['ROTOR_VAULT_ROLE_ID', 'ROTOR_VAULT_SECRET_ID', 'ROTOR_DATABASE_URL', 'ROTOR_CODEC_KEY'];

/**
 * The environment an operator of this test's stack would export: the stack's addresses with this
 * file's own task queue (served by the in-process worker) and inventory, logged in to Vault as
 * `user` (their own token, as after `rotor login`), and none of the worker's credentials.
 */
export async function cliEnv(
  stack: StackConnection,
  user: OperatorName = 'alice',
  extra: Record<string, string> = {},
): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...stack.file.env,
    ROTOR_TASK_QUEUE: stack.taskQueue,
    ROTOR_INVENTORY: stack.env.ROTOR_INVENTORY,
    ROTOR_VAULT_TOKEN: await operatorToken(stack.file, user),
    // Not read (ROTOR_VAULT_TOKEN wins); its .last-issued sibling keeps this person's tokens distinct.
    ROTOR_TOKEN_FILE: join(stack.file.stateDir, `cli-token-${user}`),
    ...extra,
  };
  for (const key of WORKER_ONLY) if (!(key in extra)) delete env[key];
  return env;
}

/**
 * Starts `node cli/rotor.js <args>` in the repository root, as a user would run it. Asynchronous on
 * purpose: the worker serving the task queue runs in this process and must keep running meanwhile.
 */
export function spawnCli(args: string[], { env, timeoutMs = 60_000 }: CliOptions): RunningCli {
  const child = spawn(process.execPath, ['cli/rotor.js', ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const done = new Promise<CliRun>((resolve, reject) => {
    child.once('error', (err) => {
      clearTimeout(timer);
      running.delete(child);
      reject(err);
    });
    // 'close' (not 'exit'): all output has been read by then.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ args, code, signal, stdout, stderr, timedOut });
    });
  });
  return { child, output: () => ({ stdout, stderr }), done };
}

export function runCli(args: string[], options: CliOptions): Promise<CliRun> {
  return spawnCli(args, options).done;
}

/** Kills (by pid, SIGKILL) every CLI process this helper started that is still running. */
export function killRunningClis(): void {
  for (const child of running) child.kill('SIGKILL');
}

/** The whole run, for assertion messages. */
export function describeRun(run: CliRun): string {
  const ended = run.timedOut ? 'timed out' : run.code === null ? `killed by ${run.signal}` : `exit ${run.code}`;
  return `rotor ${run.args.join(' ')} → ${ended}\n--- stdout\n${run.stdout}--- stderr\n${run.stderr}`;
}

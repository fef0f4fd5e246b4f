import { spawn } from 'node:child_process';
import { openSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { WORKER_NODE_FLAGS } from '../../stack/worker-node-flags.mjs';

const CHILD = fileURLToPath(new URL('./worker-child.ts', import.meta.url));
/** The test's worker goes when the test process goes, even killed (stdin is its lifeline). */
const EXIT_WITH_PARENT = new URL('../../stack/worker-exits-with-launcher.mjs', import.meta.url).href;

/** A worker in a child process: the fault-injection tests SIGKILL it and start another. */
export interface WorkerProcess {
  pid: number;
  /** Resolves when the worker polls its task queue. */
  ready: Promise<void>;
  exited: Promise<number | null>;
  /** True when the worker exited without being told to: a defect (its stderr is in the log). */
  diedOnItsOwn(): boolean;
  /** A real crash: SIGKILL, no shutdown, nothing reported. */
  crash(): Promise<void>;
  /** A clean stop: SIGTERM, in-flight tasks finish. */
  stop(): Promise<void>;
}

/**
 * Starts `worker-child.ts` with `env` (the ROTOR_* settings, ROTOR_FAILPOINTS_DIR for failpoints),
 * its output appended to `logFile`. `bundlePath` is a prebuilt workflow bundle (test/global-setup.ts
 * writes one), so a restart takes seconds.
 */
export function spawnWorker(env: Record<string, string>, bundlePath: string, logFile: string): WorkerProcess {
  const out = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, '--import', EXIT_WITH_PARENT, '--import', 'tsx', CHILD], {
    env: { ...process.env, ...env, ROTOR_TEST_WORKFLOW_BUNDLE: bundlePath },
    stdio: ['pipe', out, 'pipe'],
  });
  child.stdin?.on('error', () => undefined);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    let seen = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      writeSync(out, chunk);
      seen = (seen + chunk.toString()).slice(-4000);
      if (seen.includes('rotor-test-worker-ready')) resolve();
    });
    void exited.then((code) => reject(new Error(`the worker exited with code ${code} before it was ready: ${seen.slice(-1000)}`)));
  });
  ready.catch(() => undefined);
  let signalled = false;
  const signal = async (sig: NodeJS.Signals) => {
    signalled = true;
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    await exited;
  };
  return {
    pid: child.pid!,
    ready,
    exited,
    diedOnItsOwn: () => !signalled && (child.exitCode !== null || child.signalCode !== null),
    crash: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
  };
}

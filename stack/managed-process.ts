import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';

/** A long-running server child whose output goes to its own log file. */
export interface ManagedProcess {
  name: string;
  logFile: string;
  child: ChildProcess;
  /** Resolves once the process has exited. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /**
   * The child's stdin is a pipe whose other end only we hold: when we die, even by SIGKILL, the
   * kernel closes it and the child reads end-of-file (see worker-exits-with-launcher.mjs).
   */
  lifeline?: boolean;
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  logFile: string,
  env: NodeJS.ProcessEnv = process.env,
  options: StartOptions = {},
): ManagedProcess {
  const out = openSync(logFile, 'a');
  // Own process group so Ctrl-C in the terminal reaches us first and we stop children in order.
  const child = spawn(command, args, { stdio: [options.lifeline ? 'pipe' : 'ignore', out, out], env, detached: true });
  // Nothing is ever written to the lifeline; an error on it only means the child is gone.
  child.stdin?.on('error', () => undefined);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  return {
    name,
    logFile,
    child,
    exited,
    async stop() {
      if (child.exitCode !== null || child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

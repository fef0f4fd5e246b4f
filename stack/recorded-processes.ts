import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { step } from './progress.js';

/**
 * The processes a launcher starts are recorded by pid in stack.json, so that the next launcher
 * can stop them when this one was killed before it could (SIGKILL, OOM, a closed terminal).
 */
interface Recorded {
  pids?: Record<string, number>;
}

const stackFile = (stateDir: string) => join(stateDir, 'stack.json');

/** Adds `name` to stack.json's pids (written by up()); replaced whole, so readers never see half a file. */
export async function recordProcess(stateDir: string, name: string, pid: number): Promise<void> {
  const file = stackFile(stateDir);
  const stack = JSON.parse(await readFile(file, 'utf8')) as Recorded;
  stack.pids = { ...stack.pids, [name]: pid };
  await writeFile(`${file}.tmp`, JSON.stringify(stack, null, 2), { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

/** Running unless gone or a zombie: an orphan's zombie may linger where init does not reap. */
export async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/**
 * Ours only when an argument is the state dir or a path in it (vault's -config=, Temporal's
 * --db-filename, the worker's --state-dir=): a pid recycled by another process is left alone.
 */
async function belongsTo(pid: number, stateDir: string): Promise<boolean> {
  const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  return args.some((arg) => {
    const value = arg.slice(arg.indexOf('=') + 1);
    return value === stateDir || value.startsWith(`${stateDir}/`);
  });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

async function exitedWithin(pid: number, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(100)) if (!(await running(pid))) return true;
  return !(await running(pid));
}

/** Stops what an earlier, killed launcher recorded: the newest first (the worker before its servers). */
export async function stopLeftoverProcesses(stateDir: string): Promise<void> {
  let recorded: Recorded;
  try {
    recorded = JSON.parse(await readFile(stackFile(stateDir), 'utf8')) as Recorded;
  } catch {
    return;
  }
  for (const [name, pid] of Object.entries(recorded.pids ?? {}).reverse()) {
    if (!(await running(pid)) || !(await belongsTo(pid, stateDir))) continue;
    await step(`stopping ${name} (pid ${pid}) left over from an earlier run`, async () => {
      signalGroup(pid, 'SIGTERM');
      // A stopped (SIGSTOP, debugger) process acts on SIGTERM only once continued.
      signalGroup(pid, 'SIGCONT');
      if (await exitedWithin(pid, 10_000)) return;
      signalGroup(pid, 'SIGKILL');
      await exitedWithin(pid, 5_000);
    });
  }
}

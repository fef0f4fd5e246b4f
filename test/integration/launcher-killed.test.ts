import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../config/repo-root.js';

/**
 * `npm start` for real, beside the test stack: its own state dir, an inventory of one secret without
 * demo consumers (they would need fixed ports), and ports below the ephemeral range that no mode in
 * stack/ports.ts uses. The launcher (stack/main.ts) is SIGKILLed, as an OOM kill or a crash would
 * end it, with no chance to stop its children.
 */
const PORTS = {
  ROTOR_TEMPORAL_PORT: 29233,
  ROTOR_TEMPORAL_UI_PORT: 29234,
  ROTOR_TEMPORAL_UI_SERVER_PORT: 29263,
  ROTOR_TEMPORAL_HTTP_PORT: 29243,
  ROTOR_TEMPORAL_METRICS_PORT: 29253,
  ROTOR_VAULT_PORT: 29200,
  ROTOR_PG_PORT: 29544,
  ROTOR_CODEC_PORT: 29288,
  ROTOR_MARIADB_PORT: 29316,
  ROTOR_REDIS_PORT: 29389,
  ROTOR_IAM_PORT: 29016,
  ROTOR_PROMETHEUS_PORT: 29190,
  ROTOR_WORKER_METRICS_PORT: 29465,
};

interface Launch {
  /** `node stack/npm-start.mjs`, the test's own child. */
  npmStart: ChildProcess;
  output: () => string;
  /** stack/main.ts, the launcher proper (what launcher.pid names). */
  launcherPid: number;
  workerPid: number;
}

/** The fields of /proc/<pid>/stat after the command name: [state, ppid, ...]; empty when gone. */
async function stat(pid: number): Promise<string[]> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return text ? text.slice(text.lastIndexOf(')') + 2).split(' ') : [];
}

/** Running unless gone or a zombie (an orphan's zombie may linger: not every init reaps). */
async function running(pid: number): Promise<boolean> {
  const state = (await stat(pid))[0];
  return state !== undefined && state !== 'Z' && state !== 'X';
}

async function cmdline(pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
}

async function pids(): Promise<number[]> {
  return (await readdir('/proc')).filter((e) => /^\d+$/.test(e)).map(Number);
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs / 1000}s`);
    await sleep(100);
  }
}

describe('a launcher killed with SIGKILL', () => {
  let stateDir: string;
  let env: NodeJS.ProcessEnv;
  const launches: Launch[] = [];

  /** Processes whose command line names our state dir: the servers (and, fixed, the worker). */
  async function stackProcesses(): Promise<number[]> {
    const found: number[] = [];
    for (const pid of await pids()) {
      if ((await cmdline(pid)).some((a) => a.includes(stateDir)) && (await running(pid))) found.push(pid);
    }
    return found;
  }

  /** `node stack/npm-start.mjs`, or with `viaNpm` the real `npm start` (npm, its shell, then npm-start.mjs). */
  async function launch(viaNpm = false): Promise<Launch> {
    const npmStart = viaNpm
      ? spawn('npm', ['start'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, ['stack/npm-start.mjs'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    npmStart.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npmStart.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((resolve) => npmStart.once('exit', () => resolve()));
    let done = false;
    await Promise.race([
      waitUntil('npm start reports "rotor is running"', async () => done || output.includes('rotor is running:'), 150_000),
      exited.then(() => {
        done = true;
        throw new Error(`npm start exited early:\n${output}`);
      }),
    ]);
    done = true;
    const launcherPid = Number((await readFile(join(stateDir, 'launcher.pid'), 'utf8')).trim());
    // Found by ancestry and entry point, not from stack.json, so the old code is judged the same way.
    let workerPid = 0;
    for (const pid of await pids()) {
      if (Number((await stat(pid))[1]) === launcherPid && (await cmdline(pid)).some((a) => a.endsWith('workers/main.ts'))) workerPid = pid;
    }
    expect(workerPid, `no worker child of launcher ${launcherPid}:\n${output}`).toBeGreaterThan(0);
    const started = { npmStart, output: () => output, launcherPid, workerPid };
    launches.push(started);
    return started;
  }

  /** Worker pids polling the stack's task queue (a worker's identity is pid@host). */
  async function pollerPids(): Promise<number[]> {
    const connection = await Connection.connect({ address: `127.0.0.1:${PORTS.ROTOR_TEMPORAL_PORT}` });
    try {
      const { pollers } = await connection.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: 'rotor' },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      return [...new Set((pollers ?? []).map((p) => Number(p.identity?.split('@')[0])))];
    } finally {
      await connection.close();
    }
  }

  async function killLauncher(l: Launch): Promise<void> {
    const exited = new Promise<void>((resolve) => (l.npmStart.exitCode !== null ? resolve() : l.npmStart.once('exit', () => resolve())));
    process.kill(l.launcherPid, 'SIGKILL');
    await exited; // npm-start.mjs follows its launcher
  }

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'rotor-launcher-killed-'));
    const inventory = join(stateDir, 'inventory.yaml');
    await writeFile(
      inventory,
      'secrets:\n  - { id: launcher-db, path: apps/launcher-db, owner: team-test,\n' +
        '      provider: { type: postgres, adminPath: _rotor/admin/demo-postgres, users: [launcher_a, launcher_b], database: demo } }\n',
    );
    env = { ...process.env, ROTOR_STATE_DIR: stateDir, ROTOR_INVENTORY: inventory };
    for (const [name, port] of Object.entries(PORTS)) env[name] = String(port);
  });

  afterAll(async () => {
    // Only after a failure is anything left: stop it without leaving the next run a busy port.
    const leftovers = new Set(await stackProcesses());
    for (const l of launches) for (const pid of [l.launcherPid, l.workerPid]) if (await running(pid)) leftovers.add(pid);
    for (const pid of leftovers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    }
    for (const l of launches) if (l.npmStart.exitCode === null) l.npmStart.kill('SIGKILL');
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('leaves no worker behind: it exits by itself, and the next start stops one that did not; the new worker alone serves', async () => {
    // 1. The launcher only is killed: its worker notices and exits without waiting for the next start.
    const first = await launch();
    await killLauncher(first);
    await waitUntil(
      `worker ${first.workerPid} exiting after its launcher was killed`,
      async () => !(await running(first.workerPid)),
      15_000,
    );
    expect(await readFile(join(stateDir, 'worker.log'), 'utf8')).toContain('its launcher is gone');

    // 2. The next start stops the killed launcher's servers and runs its own worker, alone on the queue.
    const second = await launch();
    expect(second.output()).toContain('left over from an earlier run');
    expect(await running(first.workerPid)).toBe(false);
    expect(await pollerPids()).toEqual([second.workerPid]);

    // 3. A worker that cannot notice (stopped, as a hung one would be) is stopped by the next start.
    process.kill(second.workerPid, 'SIGSTOP');
    await killLauncher(second);
    expect(await running(second.workerPid)).toBe(true);
    const third = await launch();
    expect(third.output()).toContain(`stopping worker (pid ${second.workerPid}) left over from an earlier run`);
    expect(await running(second.workerPid)).toBe(false);
    expect(await pollerPids()).toEqual([third.workerPid]);

    // 4. Ctrl-C stops everything this start runs; nothing of any start is left.
    const stopped = new Promise<number | null>((resolve) => third.npmStart.once('exit', (code) => resolve(code)));
    process.kill(third.launcherPid, 'SIGINT');
    expect(await stopped).toBe(0);
    for (const l of launches) {
      expect(await running(l.launcherPid)).toBe(false);
      expect(await running(l.workerPid)).toBe(false);
    }
    expect(await stackProcesses()).toEqual([]);
  }, 420_000);

  it('SIGTERM to the npm start process alone (a supervisor, kill <pid>) stops the worker and every server it started', async () => {
    const started = await launch(true);
    const ours = await stackProcesses();
    // PostgreSQL, MariaDB, Redis, the IAM endpoint, OpenBao, Temporal and the worker.
    expect(ours.length).toBeGreaterThanOrEqual(7);
    const exited = new Promise<number | null>((resolve) => started.npmStart.once('exit', (code) => resolve(code)));
    process.kill(started.npmStart.pid!, 'SIGTERM');
    await exited;
    await waitUntil(
      'every process of this start gone after SIGTERM to npm',
      async () => (await stackProcesses()).length === 0 && !(await running(started.launcherPid)) && !(await running(started.workerPid)),
      60_000,
    );
    expect(started.output()).toContain('SIGTERM: stopping demo consumers, worker and servers');
    expect(started.output()).toContain('stopped; state kept in');
  }, 240_000);
});

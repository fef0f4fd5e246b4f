import { spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../config/repo-root.js';
import { postgresSecretYaml, seed, startRotation, waitForStatus } from '../helpers/rotation-fixtures.js';
import { connectTestStack, type StackConnection } from '../helpers/test-stack.js';

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function probe(url: string): Promise<{ status: number; body: { state?: string; reasons?: string[] } } | 'refused'> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: (await res.json()) as { state?: string } };
  } catch {
    return 'refused';
  }
}

/**
 * The real worker entry point (workers/main.ts) as Kubernetes or compose runs it: health endpoints
 * on ROTOR_HEALTH_LISTEN, and SIGTERM draining in-flight activities for ROTOR_SHUTDOWN_GRACE.
 */
describe('the worker process under a supervisor', () => {
  let stack: StackConnection;
  // A consumer that never reports the new version: its health-mode wait is an activity in flight.
  const stuck = createHttpServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"version":0}'));

  beforeAll(async () => {
    await new Promise<void>((resolve) => stuck.listen(0, '127.0.0.1', resolve));
    const consumerUrl = `http://127.0.0.1:${(stuck.address() as AddressInfo).port}/health`;
    stack = await connectTestStack(
      'lifecycle',
      `secrets:\n${postgresSecretYaml('lifecycle-db', `      - name: slow\n        confirm: { mode: health, url: ${consumerUrl}, timeout: 2m }`)}`,
    );
  });

  afterAll(async () => {
    await stack?.client.workflow
      .getHandle('rotate/lifecycle-db')
      .terminate('test over')
      .catch(() => undefined);
    await stack?.connection.close();
    await new Promise<void>((resolve) => stuck.close(() => resolve()));
  });

  it('is ready only while it polls and reaches Temporal and Vault; on SIGTERM it turns unready and exits within its grace period', async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    const health = `http://127.0.0.1:${port}`;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(stack.env)) if (v !== undefined) env[k] = String(v);
    const logFile = join(stack.file.stateDir, `worker-lifecycle-${stack.taskQueue}.log`);
    const worker = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        ...env,
        ROTOR_HEALTH_LISTEN: `127.0.0.1:${port}`,
        ROTOR_METRICS_LISTEN: `127.0.0.1:${metricsPort}`,
        ROTOR_SHUTDOWN_GRACE: '3s',
        ROTOR_RECONCILE_SCHEDULES: 'false',
      },
      stdio: ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')],
    });
    const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
      worker.once('exit', (code) => resolve({ code, at: Date.now() })),
    );
    try {
      // Bundling the workflow code takes a while: ready only once it polls.
      for (const deadline = Date.now() + 90_000; ; await sleep(250)) {
        const r = await probe(`${health}/readyz`);
        if (r !== 'refused' && r.status === 200) break;
        if (Date.now() > deadline || worker.exitCode !== null)
          throw new Error(`never ready: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
      }
      expect(await probe(`${health}/livez`)).toEqual({ status: 200, body: { state: 'RUNNING' } });
      expect(await probe(`${health}/readyz`)).toEqual({ status: 200, body: { state: 'RUNNING' } });

      // The SDK's own metrics, for a scrape: the worker's task slots on this task queue.
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(metrics).toMatch(new RegExp(`temporal_worker_task_slots_available\\{[^}]*task_queue="${stack.taskQueue}"`));

      expect(await seed(stack, 'lifecycle-db')).toBe(1);
      await startRotation(stack, 'lifecycle-db');
      await waitForStatus(stack, 'rotate/lifecycle-db', (s) => s.phase === 'awaiting_confirmation');

      const signalled = Date.now();
      worker.kill('SIGTERM');
      const seenWhileDraining: string[] = [];
      while (worker.exitCode === null && Date.now() - signalled < 20_000) {
        const r = await probe(`${health}/readyz`);
        if (r !== 'refused') seenWhileDraining.push(`${r.status} ${r.body.state}`);
        await sleep(100);
      }
      const { code, at } = await exited;
      expect(code).toBe(0);
      // Within the grace (3 s) plus the time to close connections: long before a supervisor's SIGKILL.
      expect(at - signalled).toBeLessThan(15_000);
      // A probe already on its keep-alive connection can be answered before the process handles the
      // signal (delivery is asynchronous); from the first unready answer on, it stays unready.
      const firstUnready = seenWhileDraining.findIndex((s) => s.startsWith('503 '));
      expect(firstUnready).toBeGreaterThanOrEqual(0);
      expect(seenWhileDraining.slice(firstUnready).every((s) => s === '503 DRAINING')).toBe(true);
      expect(await probe(`${health}/livez`)).toBe('refused');
    } finally {
      if (worker.exitCode === null) worker.kill('SIGKILL');
    }
    // The rotation it was serving is not lost: it waits for the next worker.
    expect((await stack.client.workflow.getHandle('rotate/lifecycle-db').describe()).status.name).toBe('RUNNING');
  }, 180_000);
});

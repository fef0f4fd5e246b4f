import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import { parseListenAddress } from '../config/listen-address.js';

/** What readiness asks of each dependency, at most this often (probes come every few seconds). */
const CHECK_EVERY_MS = 5_000;
const CHECK_TIMEOUT_MS = 3_000;

export interface HealthServer {
  url: string;
  close(): Promise<void>;
}

interface Dependencies {
  worker: Pick<Worker, 'getState'>;
  /** True once a shutdown signal arrived (the worker's own state follows a moment later). */
  stopping(): boolean;
  /** A client connection to Temporal (the worker's own native connection has no health call). */
  temporal: Connection;
  /** Vault's address: `sys/health` answers without a token. */
  vaultAddress: string;
  logger: Logger;
}

type Check = { ok: true } | { ok: false; reason: string };

async function temporalReachable(temporal: Connection): Promise<Check> {
  try {
    await temporal.withDeadline(Date.now() + CHECK_TIMEOUT_MS, () => temporal.workflowService.getSystemInfo({}));
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `Temporal: ${(err as Error).message.slice(0, 200)}` };
  }
}

async function vaultReady(vaultAddress: string): Promise<Check> {
  try {
    // 200 = initialised, unsealed, active; 429 = an unsealed standby, which serves reads too.
    const res = await fetch(new URL('/v1/sys/health?standbyok=true', vaultAddress), { signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
    return res.ok ? { ok: true } : { ok: false, reason: `Vault: sys/health answered ${res.status} (503 = sealed, 501 = not initialised)` };
  } catch (err) {
    return { ok: false, reason: `Vault: ${(err as Error).message.slice(0, 200)}` };
  }
}

/**
 * GET /livez: the worker runs (503 once it failed or stopped, so a supervisor restarts it).
 * GET /readyz: it polls Temporal and can reach Temporal and an unsealed Vault (503 while starting,
 * draining after SIGTERM, or cut off: a rolling deploy waits for it, a Service sends it nothing).
 * Answers carry states and reasons, never a value or a token.
 */
export async function startHealthServer(listen: string, deps: Dependencies): Promise<HealthServer> {
  let last: { at: number; checks: Check[] } | undefined;
  const dependencies = async (): Promise<Check[]> => {
    if (last && Date.now() - last.at < CHECK_EVERY_MS) return last.checks;
    const checks = await Promise.all([temporalReachable(deps.temporal), vaultReady(deps.vaultAddress)]);
    last = { at: Date.now(), checks };
    return checks;
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const reply = (status: number, body: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
      const state = deps.worker.getState();
      if (req.method !== 'GET') return reply(405, { error: 'GET only' });
      if (req.url === '/livez') return reply(state === 'FAILED' || state === 'STOPPED' ? 503 : 200, { state });
      if (req.url === '/readyz') {
        if (deps.stopping()) return reply(503, { state: 'DRAINING', reasons: ['shutting down'] });
        if (state !== 'RUNNING') return reply(503, { state, reasons: [`worker is ${state}`] });
        const failed = (await dependencies()).flatMap((c) => (c.ok ? [] : [c.reason]));
        // A signal may arrive while the checks are out: the answer is the state when it is sent.
        if (deps.stopping()) return reply(503, { state: 'DRAINING', reasons: ['shutting down'] });
        return reply(failed.length ? 503 : 200, failed.length ? { state, reasons: failed } : { state });
      }
      reply(404, { error: 'not found: GET /livez or /readyz' });
    })().catch((err: unknown) => {
      deps.logger.warn({ error: (err as Error).message }, 'health check failed');
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  const { host, port } = parseListenAddress(listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

import { createServer, type Server } from 'node:http';
import type { ActivityContext } from '../activities/activity-context.js';
import { parseListenAddress } from '../config/listen-address.js';
import { MetricSource } from './gauge-sources.js';
import { METRICS_BUDGET_MS } from './metrics-budget.js';
import { createRotorMetrics, type RotorMetricsOptions } from './rotor-metrics.js';
import { fetchSdkMetrics } from './sdk-metrics.js';

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves GET /metrics on `listen` (ROTOR_METRICS_LISTEN): rotor's metrics, then the Temporal SDK's
 * (its exporter at `sdkAddress`, a private loopback port), so one port carries both. A source that
 * fails or is slow leaves its series out and counts in rotor_metrics_collect_errors_total: a scrape
 * never fails for it, and answers within about the budget (METRICS_BUDGET_MS). Listens only once
 * rotor's counters exist at 0.
 */
export async function startMetricsServer(
  listen: string,
  ctx: ActivityContext,
  sdkAddress: string | undefined,
  options?: RotorMetricsOptions,
): Promise<MetricsServer> {
  const metrics = createRotorMetrics(ctx, options);
  // Fetched beside rotor's snapshot, within the same budget: a scrape answers within about it.
  const sdkTimeoutMs = options?.budgetMs ?? METRICS_BUDGET_MS;
  // No scrape before every counter series exists at 0 (a first event must be an increase).
  await metrics.ready;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('rotor serves GET /metrics\n');
      return;
    }
    void (async () => {
      const sdk = sdkAddress
        ? fetchSdkMetrics(sdkAddress, sdkTimeoutMs).catch((err: unknown) => {
            metrics.sourceFailed(MetricSource.TEMPORAL_SDK, err);
            return '';
          })
        : Promise.resolve('');
      const [own, sdkText] = await Promise.all([metrics.registry.metrics(), sdk]);
      const body = sdkText ? `${own.trimEnd()}\n${sdkText.trimEnd()}\n` : own;
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(req.method === 'HEAD' ? undefined : body);
    })().catch((err: unknown) => {
      ctx.logger.error({ error: (err as Error).message }, 'metrics scrape failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('metrics unavailable; see the worker log\n');
    });
  });
  const { host, port } = parseListenAddress(listen);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (err) {
    metrics.stop();
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE'
        ? 'is already in use'
        : code === 'EADDRNOTAVAIL'
          ? 'is not an address of this host'
          : `failed (${code ?? (err as Error).message})`;
    throw new Error(
      `ROTOR_METRICS_LISTEN=${listen}: binding ${why}; set ROTOR_METRICS_LISTEN to a free ip:port of this host, e.g. "0.0.0.0:9464"`,
    );
  }
  const address = server.address() as { port: number };
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}/metrics`;
  ctx.logger.info({ url, temporalSdk: sdkAddress ? 'included' : 'not exported by this process' }, 'metrics endpoint');
  return {
    url,
    async close() {
      metrics.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

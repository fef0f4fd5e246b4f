import { createServer, type Server } from 'node:net';
import type pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { freeLoopbackAddress } from '../metrics/sdk-metrics.js';
import { createLogger, installRuntimeLogger, runtimeMetricsAddress } from './logger.js';

/**
 * The real Temporal runtime (this file's own process: vitest forks per file) asked to export on a
 * port another server took after it was chosen: it binds another and says so.
 */
describe('installRuntimeLogger', () => {
  let taken: Server | undefined;
  afterAll(async () => {
    if (taken) await new Promise<void>((r) => taken!.close(() => r()));
  });

  it('retries the SDK exporter on another port when the chosen one was taken meanwhile, and names the one bound', async () => {
    const chosen = await freeLoopbackAddress();
    // Someone else binds it between the choice and the runtime's installation.
    const server = createServer();
    taken = server;
    await new Promise<void>((r) => server.listen(Number(chosen.split(':')[1]), '127.0.0.1', r));
    const lines: string[] = [];
    const logger = createLogger('info', { write: (line: string) => void lines.push(line) } as pino.DestinationStream);

    installRuntimeLogger(logger, chosen);

    const bound = runtimeMetricsAddress();
    expect(bound).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(bound).not.toBe(chosen);
    const retry = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.address === chosen);
    expect(retry).toMatchObject({ level: 40, retry: bound, msg: "the Temporal SDK's metrics port was taken; trying another" });
    // The SDK's own exporter answers there.
    const response = await fetch(`http://${bound}/metrics`);
    expect(response.status).toBe(200);
    // Installed once: a second call changes nothing.
    installRuntimeLogger(logger, '127.0.0.1:1');
    expect(runtimeMetricsAddress()).toBe(bound);
  });
});

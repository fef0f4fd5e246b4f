import { createServer } from 'node:net';

/**
 * A free port on 127.0.0.1 for the Temporal SDK's own Prometheus exporter: private to this
 * process, since rotor's metrics server on ROTOR_METRICS_LISTEN serves its text with rotor's. The
 * port is free when asked; the runtime binds it moments later, and tries another if it was taken
 * meanwhile (workers/logger.ts).
 */
export function freeLoopbackAddress(): Promise<string> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(`127.0.0.1:${port}`));
    });
  });
}

/** The SDK exporter's exposition text (task slots, schedule-to-start latency, …), within `timeoutMs`. */
export async function fetchSdkMetrics(address: string, timeoutMs: number): Promise<string> {
  const response = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) throw new Error(`the Temporal SDK's metrics exporter at ${address} answered ${response.status}`);
  return response.text();
}

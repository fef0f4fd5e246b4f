import pino, { type Logger } from 'pino';
import { DefaultLogger, Runtime, type LogLevel, type LogMetadata } from '@temporalio/worker';

/**
 * pino's redact wildcards match one level only, so each depth is listed. Values also never
 * reach logs by design (references only); this is the second wall.
 */
const SECRET_KEYS = [
  'password',
  'secret',
  'secretId',
  'secret_id',
  'token',
  'client_token',
  'wrapToken',
  'value',
  'credential',
  'authorization',
  'X-Vault-Token',
  'databaseUrl',
];
export const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);

export function createLogger(level: string = process.env.ROTOR_LOG_LEVEL ?? 'info', destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'rotor' } }, destination);
}

let installed = false;
let installedMetricsAddress: string | undefined;

/** Attempts at binding the SDK exporter: the first address, then this many others. */
const EXPORTER_RETRIES = 4;
/**
 * Where a retry looks for a port: above every port the stack uses (stack/ports.ts, up to 39464),
 * so a retry never takes one a later `npm start` or test stack expects free.
 */
const RETRY_PORTS = { from: 40_000, to: 60_999 };
const isBindError = (err: unknown) => /address already in use|os error 98|EADDRINUSE/i.test((err as Error).message ?? '');

/**
 * Routes the Temporal SDK's own logs (worker, core) through pino and, with `metricsListen`
 * (`ip:port`), has the SDK export its Prometheus metrics (task slots, schedule-to-start latency, …)
 * at /metrics there. Must run once, before any worker.
 *
 * The port was free when chosen (freeLoopbackAddress) but the core binds it only now: another
 * process may have taken it meanwhile. The core reports that at once (Runtime.install throws), so
 * another port of the same host is tried, a few times; runtimeMetricsAddress() names the one bound.
 */
export function installRuntimeLogger(logger: Logger, metricsListen?: string): void {
  if (installed) return;
  const toPino: Record<LogLevel, (meta: LogMetadata, msg: string) => void> = {
    TRACE: (m, s) => logger.trace(m, s),
    DEBUG: (m, s) => logger.debug(m, s),
    INFO: (m, s) => logger.info(m, s),
    WARN: (m, s) => logger.warn(m, s),
    ERROR: (m, s) => logger.error(m, s),
  };
  // Filter at the SDK's level too: what pino would drop is then never formatted and handed over.
  const levels: Record<string, LogLevel> = { trace: 'TRACE', debug: 'DEBUG', info: 'INFO', warn: 'WARN' };
  const level = levels[logger.level] ?? 'ERROR';
  const install = (bindAddress: string | undefined) =>
    Runtime.install({
      logger: new DefaultLogger(level, (entry) => toPino[entry.level](entry.meta ?? {}, entry.message)),
      ...(bindAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress, countersTotalSuffix: true } } } } : {}),
    });
  let address = metricsListen;
  for (let attempt = 0; ; attempt++) {
    try {
      install(address);
      break;
    } catch (err) {
      // Anything but a taken port (or retries spent) is not ours to work around: nothing was installed, say so.
      if (!address || !isBindError(err) || attempt >= EXPORTER_RETRIES) throw err;
      const host = address.slice(0, address.lastIndexOf(':'));
      const next = `${host}:${RETRY_PORTS.from + Math.floor(Math.random() * (RETRY_PORTS.to - RETRY_PORTS.from + 1))}`;
      logger.warn({ address, retry: next, error: (err as Error).message }, "the Temporal SDK's metrics port was taken; trying another");
      address = next;
    }
  }
  // Only now: a failed installation leaves a later call free to try again.
  installed = true;
  installedMetricsAddress = address;
}

/** Where the installed runtime exports the SDK's metrics (the first installation's choice, per process). */
export function runtimeMetricsAddress(): string | undefined {
  return installedMetricsAddress;
}

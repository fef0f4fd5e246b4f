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

/**
 * Routes the Temporal SDK's own logs (worker, core) through pino and, with `metricsListen`
 * (`ip:port`), has the SDK export its Prometheus metrics (task slots, schedule-to-start latency, …)
 * at /metrics there. Must run once, before any worker.
 */
export function installRuntimeLogger(logger: Logger, metricsListen?: string): void {
  if (installed) return;
  installed = true;
  installedMetricsAddress = metricsListen;
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
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => toPino[entry.level](entry.meta ?? {}, entry.message)),
    ...(metricsListen ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsListen, countersTotalSuffix: true } } } } : {}),
  });
}

/** Where the installed runtime exports the SDK's metrics (the first installation's choice, per process). */
export function runtimeMetricsAddress(): string | undefined {
  return installedMetricsAddress;
}

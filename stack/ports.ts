import { createServer } from 'node:net';
import { StackError } from './stack-error.js';

/** `local` is what `npm start` runs; `test`, `bench` and `chaos` (npm run chaos) use other ports so they run beside it. */
export type StackMode = 'local' | 'test' | 'bench' | 'chaos';

export interface Ports {
  temporal: number;
  /** The public UI address: rotor's gateway (stack/ui-gateway.ts), UI plus codec on one origin. */
  temporalUi: number;
  /** Where the dev server's own UI listens, reached only through the gateway. */
  temporalUiServer: number;
  temporalHttp: number;
  temporalMetrics: number;
  vault: number;
  postgres: number;
  codec: number;
  mariadb: number;
  redis: number;
  /** The local IAM-compatible endpoint (moto) the aws-iam-access-key provider is tried against. */
  iam: number;
  /** The stack's Prometheus (scrapes workers, evaluates deploy/prometheus/rotor-alerts.yml). */
  prometheus: number;
  /** `npm start`'s worker's metrics (ROTOR_METRICS_LISTEN); test workers pick free ports of their own. */
  workerMetrics: number;
}

const defaults: Record<StackMode, Ports> = {
  local: {
    temporal: 7233,
    temporalUi: 8233,
    temporalUiServer: 7263,
    temporalHttp: 7243,
    temporalMetrics: 7253,
    vault: 8200,
    postgres: 5544,
    codec: 8288,
    mariadb: 3316,
    redis: 6389,
    iam: 5016,
    prometheus: 9090,
    workerMetrics: 9464,
  },
  bench: {
    temporal: 37233,
    temporalUi: 38233,
    temporalUiServer: 37263,
    temporalHttp: 37243,
    temporalMetrics: 37253,
    vault: 38200,
    postgres: 35544,
    codec: 38288,
    mariadb: 33316,
    redis: 36389,
    iam: 35016,
    prometheus: 39090,
    workerMetrics: 39464,
  },
  chaos: {
    temporal: 27233,
    temporalUi: 28233,
    temporalUiServer: 27263,
    temporalHttp: 27243,
    temporalMetrics: 27253,
    vault: 28200,
    postgres: 25544,
    codec: 28288,
    mariadb: 23316,
    redis: 26389,
    iam: 25016,
    prometheus: 29090,
    workerMetrics: 29464,
  },
  test: {
    temporal: 17233,
    temporalUi: 18233,
    temporalUiServer: 17263,
    temporalHttp: 17243,
    temporalMetrics: 17253,
    vault: 18200,
    postgres: 15544,
    codec: 18288,
    mariadb: 13316,
    redis: 16389,
    iam: 15016,
    prometheus: 19090,
    workerMetrics: 19464,
  },
};

const envNames: Record<keyof Ports, string> = {
  temporal: 'ROTOR_TEMPORAL_PORT',
  temporalUi: 'ROTOR_TEMPORAL_UI_PORT',
  temporalUiServer: 'ROTOR_TEMPORAL_UI_SERVER_PORT',
  temporalHttp: 'ROTOR_TEMPORAL_HTTP_PORT',
  temporalMetrics: 'ROTOR_TEMPORAL_METRICS_PORT',
  vault: 'ROTOR_VAULT_PORT',
  postgres: 'ROTOR_PG_PORT',
  codec: 'ROTOR_CODEC_PORT',
  mariadb: 'ROTOR_MARIADB_PORT',
  redis: 'ROTOR_REDIS_PORT',
  iam: 'ROTOR_IAM_PORT',
  prometheus: 'ROTOR_PROMETHEUS_PORT',
  workerMetrics: 'ROTOR_WORKER_METRICS_PORT',
};

export function portsFor(mode: StackMode): Ports {
  const ports = { ...defaults[mode] };
  for (const key of Object.keys(envNames) as (keyof Ports)[]) {
    const raw = process.env[envNames[key]];
    if (raw === undefined) continue;
    const port = Number(raw);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new StackError(`${envNames[key]}=${raw} is not a port`, `set ${envNames[key]} to an integer between 1 and 65535`);
    }
    ports[key] = port;
  }
  return ports;
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Refuses to start anything when a port is taken, naming the port, its role and the variable to change. */
export async function assertPortsFree(ports: Ports): Promise<void> {
  for (const key of Object.keys(ports) as (keyof Ports)[]) {
    if (!(await isFree(ports[key]))) {
      throw new StackError(
        `port ${ports[key]} (${key}) on 127.0.0.1 is already in use`,
        `stop whatever listens there (is another 'npm start' or 'npm test' running? try: ss -ltnp 'sport = :${ports[key]}') or choose another port with ${envNames[key]}=...`,
      );
    }
  }
}

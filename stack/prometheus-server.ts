import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDuration } from '../config/duration.js';
import { REPO_ROOT } from '../config/repo-root.js';
import { METRICS_BUDGET_MS } from '../metrics/metrics-budget.js';
import { startProcess, type ManagedProcess } from './managed-process.js';
import { StackError } from './stack-error.js';
import { waitFor } from './wait-for.js';

/** rotor's alert rules, shipped in the repo and loaded by the stack's Prometheus. */
export const ALERT_RULES_FILE = join(REPO_ROOT, 'deploy', 'prometheus', 'rotor-alerts.yml');

/** A Prometheus of the stack's own: it scrapes the workers listed in its targets folder and evaluates rotor's alert rules. */
export interface PrometheusServer {
  /** e.g. http://127.0.0.1:9090 (its HTTP API is under /api/v1). */
  url: string;
  /** file_sd: one JSON file per worker; Prometheus notices a file written or removed at once. */
  targetsDir: string;
  proc: ManagedProcess;
  stop(): Promise<void>;
}

/** The folder of a state dir that Prometheus reads its scrape targets from. */
export const prometheusTargetsDir = (stateDir: string): string => join(stateDir, 'prometheus', 'targets');

/**
 * Lists `address` (ip:port of a worker's ROTOR_METRICS_LISTEN) as a scrape target named `name`.
 * Written whole then renamed, so Prometheus never reads half a file.
 */
export async function addScrapeTarget(stateDir: string, name: string, address: string): Promise<string> {
  const dir = prometheusTargetsDir(stateDir);
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  await writeFile(`${file}.tmp`, JSON.stringify([{ targets: [address], labels: { worker: name } }]));
  await rename(`${file}.tmp`, file);
  return file;
}

/**
 * A worker answers a scrape within METRICS_BUDGET_MS (1.5 s: every source and the SDK exporter's
 * text share that one deadline); this much more covers rendering the text and the loopback hop.
 */
const SCRAPE_MARGIN_MS = 500;
/** 2 s: a scrape slower than the worker's budget plus the margin is a failed scrape (`up` 0), not a wait. */
export const SCRAPE_TIMEOUT_MS = METRICS_BUDGET_MS + SCRAPE_MARGIN_MS;

/**
 * Starts Prometheus on 127.0.0.1:`port` with its data in <state>/prometheus, scraping every
 * `scrapeInterval` and evaluating the alert rules as often. Prometheus refuses a scrape_timeout
 * above the interval, so an interval below SCRAPE_TIMEOUT_MS is raised to it: tests ask for 1s
 * (a counter shows up soon after its event) and get 2s interval / 2s timeout; `npm start` asks
 * for 5s and gets 5s / 2s.
 */
export async function startPrometheus(bin: string, stateDir: string, port: number, scrapeInterval: string): Promise<PrometheusServer> {
  const dir = join(stateDir, 'prometheus');
  const targetsDir = prometheusTargetsDir(stateDir);
  await mkdir(join(dir, 'data'), { recursive: true });
  await mkdir(targetsDir, { recursive: true });
  const configFile = join(dir, 'prometheus.yml');
  const requestedMs = parseDuration(scrapeInterval);
  if (requestedMs === undefined) throw new StackError(`invalid scrape interval ${scrapeInterval}`, 'pass a duration such as "5s"');
  const intervalMs = Math.max(requestedMs, SCRAPE_TIMEOUT_MS);
  // JSON is YAML: no YAML writer needed, and no value here needs quoting rules.
  const config = {
    global: { scrape_interval: `${intervalMs}ms`, evaluation_interval: `${intervalMs}ms`, scrape_timeout: `${SCRAPE_TIMEOUT_MS}ms` },
    rule_files: [ALERT_RULES_FILE],
    scrape_configs: [
      { job_name: 'rotor', metrics_path: '/metrics', file_sd_configs: [{ files: [join(targetsDir, '*.json')], refresh_interval: '5s' }] },
    ],
  };
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);
  const logFile = join(stateDir, 'prometheus.log');
  const proc = startProcess(
    'prometheus',
    bin,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      '--storage.tsdb.retention.time=15d',
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    logFile,
  );
  const url = `http://127.0.0.1:${port}`;
  const stop = () => proc.stop();
  try {
    await waitFor(
      'Prometheus',
      async () => (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) })).ok,
      60_000,
      () => (proc.child.exitCode !== null ? `prometheus exited with code ${proc.child.exitCode}` : undefined),
    );
  } catch (err) {
    await stop();
    throw new StackError(
      `Prometheus did not start: ${(err as Error).message}`,
      'read the log (a rule file promtool rejects stops it too)',
      logFile,
    );
  }
  return { url, targetsDir, proc, stop };
}

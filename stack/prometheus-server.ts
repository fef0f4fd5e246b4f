import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../config/repo-root.js';
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
 * Starts Prometheus on 127.0.0.1:`port` with its data in <state>/prometheus, scraping every
 * `scrapeInterval` (1s in tests, so a test sees a counter soon after the event) and evaluating
 * the alert rules as often.
 */
export async function startPrometheus(bin: string, stateDir: string, port: number, scrapeInterval: string): Promise<PrometheusServer> {
  const dir = join(stateDir, 'prometheus');
  const targetsDir = prometheusTargetsDir(stateDir);
  await mkdir(join(dir, 'data'), { recursive: true });
  await mkdir(targetsDir, { recursive: true });
  const configFile = join(dir, 'prometheus.yml');
  // JSON is YAML: no YAML writer needed, and no value here needs quoting rules.
  const config = {
    global: { scrape_interval: scrapeInterval, evaluation_interval: scrapeInterval, scrape_timeout: scrapeInterval },
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

import { access, copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { step } from './progress.js';
import { runCommand } from './run-command.js';
import { StackError } from './stack-error.js';

/** Pinned versions: the cache is keyed by them, so a bump rebuilds once. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
/** OpenBao v2.4.0's release commit; its v2 tags lack a /v2 module suffix, so we pin the pseudo-version. */
export const OPENBAO_VERSION = 'v2.4.0';

/** moto (an IAM-compatible server, PyPI), installed into a virtualenv of its own under the tools cache. */
export const MOTO_VERSION = '5.2.5';

export interface Tools {
  temporal: string;
  vault: string;
  pgBin: string;
  /** mariadbd and mariadb-install-db (Debian's mariadb-server). */
  mariadb: { server: string; installDb: string };
  redisServer: string;
  /** The virtualenv's python, which runs `moto.server`. */
  motoPython: string;
}

export function toolsCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return process.env.ROTOR_TOOLS_DIR ?? join(base, 'rotor', 'tools');
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function onPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && (await isExecutable(join(dir, name)))) return join(dir, name);
  }
  return undefined;
}

async function requireGo(what: string): Promise<string> {
  const go = await onPath('go');
  if (!go) {
    throw new StackError(
      `building ${what} needs the Go toolchain, and 'go' is not on PATH`,
      `install Go 1.24+ (https://go.dev/dl) or point ROTOR_${what === 'temporal' ? 'TEMPORAL' : 'VAULT'}_BIN at a prebuilt binary`,
    );
  }
  return go;
}

async function ensureTemporal(cache: string): Promise<string> {
  if (process.env.ROTOR_TEMPORAL_BIN) return process.env.ROTOR_TEMPORAL_BIN;
  const dir = join(cache, `temporal-${TEMPORAL_CLI_VERSION}`);
  const bin = join(dir, 'temporal');
  if (await isExecutable(bin)) return bin;
  const go = await requireGo('temporal');
  const logFile = join(cache, `temporal-${TEMPORAL_CLI_VERSION}.build.log`);
  await mkdir(dir, { recursive: true });
  await step(`building Temporal CLI ${TEMPORAL_CLI_VERSION} from the Go module proxy (first run only, ~3-5 min)`, async () => {
    // GOBIN into a temp dir, then rename, so an interrupted build never leaves a half-written binary.
    const tmp = join(cache, `temporal-${TEMPORAL_CLI_VERSION}.tmp`);
    const result = await runCommand(go, ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`], {
      env: { ...process.env, GOBIN: tmp },
      logFile,
    });
    if (result.code !== 0) {
      throw new StackError(
        `'go install' of the Temporal CLI failed (exit ${result.code})`,
        'check network access to the Go module proxy and the log, then run again',
        logFile,
      );
    }
    await rename(join(tmp, 'temporal'), bin);
    await rm(tmp, { recursive: true, force: true });
  });
  return bin;
}

async function ensureVault(cache: string): Promise<string> {
  if (process.env.ROTOR_VAULT_BIN) return process.env.ROTOR_VAULT_BIN;
  const existing = (await onPath('bao')) ?? (await onPath('vault'));
  if (existing) return existing;
  const dir = join(cache, `openbao-${OPENBAO_VERSION}`);
  const bin = join(dir, 'bao');
  if (await isExecutable(bin)) return bin;
  const go = await requireGo('openbao');
  const buildDir = join(cache, `openbao-${OPENBAO_VERSION}-build`);
  const logFile = join(cache, `openbao-${OPENBAO_VERSION}.build.log`);
  await mkdir(buildDir, { recursive: true });
  await mkdir(dir, { recursive: true });
  const template = fileURLToPath(new URL('./openbao-build/go.mod', import.meta.url));
  await copyFile(template, join(buildDir, 'go.mod'));
  await step(`building OpenBao ${OPENBAO_VERSION} from the Go module proxy (first run only, ~5-8 min)`, async () => {
    const result = await runCommand(go, ['build', '-o', `${bin}.tmp`, 'github.com/openbao/openbao'], {
      cwd: buildDir,
      // -mod=mod lets go resolve OpenBao's own requirements into our build module.
      // OpenBao's kms-wrapping modules are missing from the public checksum DB, so skip it for that org only.
      env: { ...process.env, GOFLAGS: '-mod=mod', GONOSUMDB: 'github.com/openbao', GOWORK: 'off' },
      logFile,
    });
    if (result.code !== 0) {
      throw new StackError(
        `building OpenBao failed (exit ${result.code})`,
        'check network access to the Go module proxy and the log, or set ROTOR_VAULT_BIN to a bao/vault binary',
        logFile,
      );
    }
    await rename(`${bin}.tmp`, bin);
  });
  return bin;
}

async function findPgBin(): Promise<string | undefined> {
  if (process.env.ROTOR_PG_BIN) return process.env.ROTOR_PG_BIN;
  // Debian keeps server binaries out of PATH, one folder per major version: take the newest.
  for (const version of ['18', '17', '16', '15', '14', '13']) {
    const dir = `/usr/lib/postgresql/${version}/bin`;
    if (await isExecutable(join(dir, 'initdb'))) return dir;
  }
  const initdb = await onPath('initdb');
  return initdb ? join(initdb, '..') : undefined;
}

/** Installs Debian packages with apt-get (as root); otherwise names the package to install. */
async function aptInstall(packages: string[], why: string): Promise<void> {
  const aptGet = await onPath('apt-get');
  if (!aptGet || process.getuid?.() !== 0) {
    throw new StackError(
      `${why} is not installed`,
      `install the package(s) ${packages.join(' ')} (Debian: sudo apt-get install ${packages.join(' ')})`,
    );
  }
  const logFile = join(toolsCacheDir(), 'apt.log');
  await mkdir(toolsCacheDir(), { recursive: true });
  await step(`installing ${packages.join(', ')} from Debian's packages`, async () => {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...packages]]) {
      const result = await runCommand(aptGet, args, { env, logFile });
      if (result.code !== 0) {
        throw new StackError(
          `apt-get ${args[0]} failed (exit ${result.code})`,
          `fix the package source or install ${packages.join(' ')} by hand`,
          logFile,
        );
      }
    }
  });
}

async function ensurePostgres(): Promise<string> {
  const found = await findPgBin();
  if (found) return found;
  await aptInstall(['postgresql'], 'PostgreSQL (initdb, pg_ctl)');
  const installed = await findPgBin();
  if (!installed) throw new StackError('postgresql installed but initdb was not found', 'set ROTOR_PG_BIN to the folder holding initdb');
  return installed;
}

async function ensureMariadb(): Promise<Tools['mariadb']> {
  const find = async () => {
    const server = (await onPath('mariadbd')) ?? ((await isExecutable('/usr/sbin/mariadbd')) ? '/usr/sbin/mariadbd' : undefined);
    const installDb = await onPath('mariadb-install-db');
    return server && installDb ? { server, installDb } : undefined;
  };
  const found = await find();
  if (found) return found;
  await aptInstall(['mariadb-server', 'mariadb-client'], 'MariaDB (mariadbd, mariadb-install-db)');
  const installed = await find();
  if (!installed)
    throw new StackError('mariadb-server installed but mariadbd was not found', 'put mariadbd and mariadb-install-db on PATH');
  return installed;
}

async function ensureRedis(): Promise<string> {
  const found = await onPath('redis-server');
  if (found) return found;
  await aptInstall(['redis-server'], 'Redis (redis-server)');
  const installed = await onPath('redis-server');
  if (!installed) throw new StackError('redis-server installed but not found on PATH', 'put redis-server on PATH');
  return installed;
}

/**
 * moto in server mode, from PyPI into a virtualenv under the tools cache: created in place and
 * marked complete last, so an interrupted install is redone rather than half used.
 */
async function ensureMoto(cache: string): Promise<string> {
  const venv = join(cache, `moto-${MOTO_VERSION}`);
  const python = join(venv, 'bin', 'python');
  const complete = join(venv, '.rotor-complete');
  if (
    await isExecutable(python).then(
      (ok) =>
        ok &&
        access(complete).then(
          () => true,
          () => false,
        ),
    )
  )
    return python;
  let system = (await onPath('python3')) ?? (await onPath('python'));
  // Debian's python3 lacks venv's ensurepip until python3-venv is installed.
  if (!system || (await runCommand(system, ['-c', 'import ensurepip, venv'])).code !== 0) {
    await aptInstall(['python3', 'python3-venv'], 'Python 3 with venv (for moto, the IAM-compatible test endpoint)');
    system = await onPath('python3');
  }
  if (!system)
    throw new StackError('the IAM test endpoint (moto) needs Python 3, and python3 is not on PATH', 'install python3 and python3-venv');
  const logFile = join(cache, `moto-${MOTO_VERSION}.install.log`);
  await step(`installing moto ${MOTO_VERSION} (an IAM-compatible endpoint) from PyPI into a virtualenv (first run only)`, async () => {
    await rm(venv, { recursive: true, force: true });
    for (const [command, args] of [
      [system, ['-m', 'venv', venv]],
      [join(venv, 'bin', 'pip'), ['install', '--disable-pip-version-check', '--no-input', `moto[server]==${MOTO_VERSION}`]],
    ] as const) {
      const result = await runCommand(command, args, { logFile });
      if (result.code !== 0) {
        throw new StackError(
          `installing moto failed (${command.split('/').pop()} exit ${result.code})`,
          'check access to PyPI (and that python3-venv is installed), then run again',
          logFile,
        );
      }
    }
    await writeFile(complete, `moto[server]==${MOTO_VERSION}\n`);
  });
  return python;
}

/**
 * Prometheus and promtool (Debian's `prometheus` package): the stack's Prometheus scrapes the
 * workers and loads deploy/prometheus/rotor-alerts.yml; promtool checks and unit-tests those rules.
 */
export async function ensurePrometheus(): Promise<{ prometheus: string; promtool: string }> {
  const find = async () => {
    const prometheus = await onPath('prometheus');
    const promtool = await onPath('promtool');
    return prometheus && promtool ? { prometheus, promtool } : undefined;
  };
  const found = await find();
  if (found) return found;
  await aptInstall(['prometheus'], 'Prometheus (prometheus, promtool)');
  const installed = await find();
  if (!installed)
    throw new StackError('prometheus installed but prometheus/promtool not found on PATH', 'put prometheus and promtool on PATH');
  return installed;
}

/** Helm, pinned like the other tools: `npm test` lints and renders deploy/helm/rotor with it. */
export const HELM_VERSION = 'v3.22.0';

/**
 * The Helm CLI: ROTOR_HELM_BIN, else the cached build, else built once from the Go module proxy
 * into the tools cache (test/unit/helm-chart.test.ts runs `helm lint` and `helm template`).
 */
export async function ensureHelm(): Promise<string> {
  if (process.env.ROTOR_HELM_BIN) return process.env.ROTOR_HELM_BIN;
  const cache = toolsCacheDir();
  const dir = join(cache, `helm-${HELM_VERSION}`);
  const bin = join(dir, 'helm');
  if (await isExecutable(bin)) return bin;
  const go = await onPath('go');
  if (!go) {
    throw new StackError(
      "building helm needs the Go toolchain, and 'go' is not on PATH",
      'install Go 1.24+ (https://go.dev/dl) or point ROTOR_HELM_BIN at a prebuilt helm v3 binary',
    );
  }
  const logFile = join(cache, `helm-${HELM_VERSION}.build.log`);
  await mkdir(dir, { recursive: true });
  await step(`building Helm ${HELM_VERSION} from the Go module proxy (first run only, ~2-4 min)`, async () => {
    // GOBIN into a temp dir, then rename, so an interrupted build never leaves a half-written binary.
    const tmp = join(cache, `helm-${HELM_VERSION}.tmp`);
    const result = await runCommand(go, ['install', `helm.sh/helm/v3/cmd/helm@${HELM_VERSION}`], {
      env: { ...process.env, GOBIN: tmp },
      logFile,
    });
    if (result.code !== 0) {
      throw new StackError(
        `'go install' of helm failed (exit ${result.code})`,
        'check network access to the Go module proxy and the log, then run again, or set ROTOR_HELM_BIN to a helm v3 binary',
        logFile,
      );
    }
    await rename(join(tmp, 'helm'), bin);
    await rm(tmp, { recursive: true, force: true });
  });
  return bin;
}

/** Tools only the test suite needs: compose validation, and Chromium for the browser test of the Temporal UI. */
export async function ensureTestTools(): Promise<void> {
  await ensureUnitTestTools();
  if (!(await isExecutable('/usr/bin/chromium'))) await aptInstall(['chromium'], 'Chromium (browser test of the Temporal UI)');
}

/** What the unit tests need: no server, only docker-compose (test/unit/docker-compose.test.ts), helm (test/unit/helm-chart.test.ts) and promtool (test/unit/alert-rules.test.ts). */
export async function ensureUnitTestTools(): Promise<void> {
  if (!(await onPath('docker-compose'))) await aptInstall(['docker-compose'], 'docker-compose (validates docker-compose.yml)');
  await ensureHelm();
  await ensurePrometheus();
}

/** Ensures every server binary exists, building or installing what is missing. Idempotent. */
export async function ensureTools(): Promise<Tools> {
  const cache = toolsCacheDir();
  await mkdir(cache, { recursive: true });
  const pgBin = await ensurePostgres();
  const temporal = await ensureTemporal(cache);
  const vault = await ensureVault(cache);
  const mariadb = await ensureMariadb();
  const redisServer = await ensureRedis();
  const motoPython = await ensureMoto(cache);
  return { temporal, vault, pgBin, mariadb, redisServer, motoPython };
}

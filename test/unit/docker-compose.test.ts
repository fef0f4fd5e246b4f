import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * Validates docker-compose.yml with Debian's standalone `docker-compose` (v1, Python), which
 * parses and interpolates the file without a Docker engine. Its `config` prints YAML; the
 * assertions also accept the long port syntax that Compose v2 prints.
 */

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const composeFile = join(repoRoot, 'docker-compose.yml');

/** Every variable config/environment.ts reads that the compose worker must set. */
const WORKER_VARIABLES = [
  'ROTOR_TEMPORAL_ADDRESS',
  'ROTOR_TEMPORAL_NAMESPACE',
  'ROTOR_TASK_QUEUE',
  'ROTOR_VAULT_ADDR',
  'ROTOR_VAULT_ROLE_ID',
  'ROTOR_VAULT_SECRET_ID',
  'ROTOR_VAULT_KV_MOUNT',
  'ROTOR_DATABASE_URL',
  'ROTOR_CODEC_KEY',
  'ROTOR_INVENTORY',
  'ROTOR_LOG_LEVEL',
] as const;

/** Optional variables the compose worker passes from .env; empty (unset) unless .env sets them. */
const OPTIONAL_WORKER_VARIABLES = [
  'ROTOR_TEMPORAL_TLS',
  'ROTOR_TEMPORAL_TLS_CA_FILE',
  'ROTOR_TEMPORAL_TLS_CERT_FILE',
  'ROTOR_TEMPORAL_TLS_KEY_FILE',
  'ROTOR_TEMPORAL_TLS_SERVER_NAME',
] as const;

/** Dummy values for the variables docker-compose.yml marks required with `${VAR:?…}`. */
const REQUIRED_ENV = {
  POSTGRES_PASSWORD: 'dummy-superuser-password',
  ROTOR_DB_PASSWORD: 'dummyrotorapppassword',
  ROTOR_CODEC_KEY: Buffer.alloc(32, 7).toString('base64'),
  ROTOR_VAULT_ROLE_ID: 'dummy-role-id',
  ROTOR_VAULT_SECRET_ID: 'dummy-secret-id',
  MARIADB_ROOT_PASSWORD: 'dummy-mariadb-root',
  REDIS_PASSWORD: 'dummy-redis-default',
} as const;

// An empty env file, so a developer's real .env next to docker-compose.yml cannot fill in
// (or mask the absence of) any variable.
const scratch = mkdtempSync(join(tmpdir(), 'rotor-compose-test-'));
const emptyEnvFile = join(scratch, 'empty.env');
writeFileSync(emptyEnvFile, '');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface ComposeResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `docker-compose -f docker-compose.yml …` with only PATH/HOME/locale from this process plus `env`. */
function compose(args: string[], env: Record<string, string>): ComposeResult {
  // Nothing ROTOR_*/POSTGRES_* from the developer's shell reaches docker-compose.
  const base: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR']) {
    const value = process.env[key];
    if (value !== undefined) base[key] = value;
  }
  const result = spawnSync('docker-compose', ['--env-file', emptyEnvFile, '-f', composeFile, ...args], {
    cwd: repoRoot,
    env: { ...base, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.error) {
    if ((result.error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        "docker-compose is not on PATH: this test validates docker-compose.yml with Debian's standalone docker-compose. " +
          'Install it with `apt-get update && apt-get install -y docker-compose` (no Docker engine is needed).',
      );
    }
    throw result.error;
  }
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

interface ComposeService {
  image?: string;
  build?: unknown;
  ports?: (string | { host_ip?: string; target?: number | string; published?: number | string })[];
  environment?: Record<string, string | null> | string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  command?: string[] | string;
}

interface ComposeModel {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

function resolvedConfig(env: Record<string, string> = REQUIRED_ENV): ComposeModel {
  const result = compose(['config'], env);
  expect(result.status, `docker-compose config failed:\n${result.stderr}`).toBe(0);
  return parse(result.stdout) as ComposeModel;
}

function service(model: ComposeModel, name: string): ComposeService {
  const found = model.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}" (services: ${Object.keys(model.services).join(', ')})`);
  return found;
}

function environmentOf(svc: ComposeService): Record<string, string> {
  const env = svc.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((entry) => [entry.split('=')[0] ?? entry, entry.slice(entry.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v ?? '']));
}

/** Host IP of a published port: "127.0.0.1:8200:8200/tcp" (v1) or { host_ip, published } (v2). */
function hostIpOf(port: NonNullable<ComposeService['ports']>[number]): string | undefined {
  if (typeof port === 'object') return port.host_ip;
  const parts = port.replace(/\/(tcp|udp|sctp)$/, '').split(':');
  // "HOST_IP:HOST_PORT:CONTAINER_PORT" names the IP; "HOST_PORT:CONTAINER_PORT" and
  // "CONTAINER_PORT" bind every interface.
  return parts.length >= 3 ? parts.slice(0, parts.length - 2).join(':') : undefined;
}

/**
 * The interpolation error itself. Compose v1 prefixes it with the service's whole raw
 * environment (every `${VAR:?…}` template, so every variable name) and ends with
 * `in service "worker": <message>`; Compose v2 prints only the message.
 */
function interpolationError(stderr: string): string {
  const match = /in service "[^"]+": (.*)$/s.exec(stderr.trim());
  return match?.[1] ?? stderr.trim();
}

describe('docker-compose.yml (validated by docker-compose config)', () => {
  it('is valid, with the required variables set', () => {
    const result = compose(['config', '-q'], REQUIRED_ENV);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('starts Temporal, the Temporal UI, PostgreSQL, OpenBao and the rotor worker', () => {
    const model = resolvedConfig();
    expect(Object.keys(model.services)).toEqual(expect.arrayContaining(['temporal', 'temporal-ui', 'postgresql', 'openbao', 'worker']));
    expect(service(model, 'temporal').image).toMatch(/^temporalio\/auto-setup:/);
    expect(service(model, 'temporal-ui').image).toMatch(/^temporalio\/ui:/);
    expect(service(model, 'postgresql').image).toMatch(/^postgres:16/);
    expect(service(model, 'openbao').image).toMatch(/^openbao\/openbao:/);
    expect(service(model, 'worker').build).toBeDefined();
  });

  it('starts the example MariaDB and Redis targets from their official images, with passwords only from .env', () => {
    const model = resolvedConfig();
    expect(service(model, 'mariadb').image).toMatch(/^mariadb:\d+\.\d+\.\d+$/);
    expect(service(model, 'redis').image).toMatch(/^redis:\d+\.\d+\.\d+$/);
    expect(environmentOf(service(model, 'mariadb')).MARIADB_ROOT_PASSWORD).toBe(REQUIRED_ENV.MARIADB_ROOT_PASSWORD);
    expect(environmentOf(service(model, 'redis')).REDIS_PASSWORD).toBe(REQUIRED_ENV.REDIS_PASSWORD);
    // The Redis password reaches the server through its environment, never its command line.
    expect(JSON.stringify(service(model, 'redis').command)).not.toContain(REQUIRED_ENV.REDIS_PASSWORD);
  });

  it('publishes every port on 127.0.0.1 only', () => {
    const model = resolvedConfig();
    const published = Object.entries(model.services).flatMap(([name, svc]) => (svc.ports ?? []).map((port) => ({ name, port })));
    expect(published.length).toBeGreaterThan(0);
    for (const { name, port } of published) {
      expect(hostIpOf(port), `service ${name} publishes ${JSON.stringify(port)}`).toBe('127.0.0.1');
    }
  });

  it('gives the worker every ROTOR_* variable the config module reads, and no other', () => {
    const env = environmentOf(service(resolvedConfig(), 'worker'));
    const rotorKeys = Object.keys(env).filter((k) => k.startsWith('ROTOR_'));
    expect(rotorKeys.sort()).toEqual([...WORKER_VARIABLES, ...OPTIONAL_WORKER_VARIABLES].sort());
    for (const key of WORKER_VARIABLES) expect(env[key], key).not.toBe('');
    expect(env.ROTOR_TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(env.ROTOR_VAULT_ADDR).toBe('http://openbao:8200');
    expect(env.ROTOR_DATABASE_URL).toBe(`postgres://rotor_app:${REQUIRED_ENV.ROTOR_DB_PASSWORD}@postgresql:5432/rotor`);
    expect(env.ROTOR_CODEC_KEY).toBe(REQUIRED_ENV.ROTOR_CODEC_KEY);
    expect(env.ROTOR_VAULT_ROLE_ID).toBe(REQUIRED_ENV.ROTOR_VAULT_ROLE_ID);
    expect(env.ROTOR_VAULT_SECRET_ID).toBe(REQUIRED_ENV.ROTOR_VAULT_SECRET_ID);
    expect(env.ROTOR_LOG_LEVEL).toBe('info');
    // Plaintext to the bundled Temporal unless .env turns TLS on.
    expect(env.ROTOR_TEMPORAL_TLS).toBe('false');
    for (const key of OPTIONAL_WORKER_VARIABLES.slice(1)) expect(env[key], key).toBe('');
  });

  it('passes the Temporal TLS settings from .env to the worker', () => {
    const tls = {
      ROTOR_TEMPORAL_TLS: 'true',
      ROTOR_TEMPORAL_TLS_CA_FILE: '/run/rotor/tls/temporal-ca.pem',
      ROTOR_TEMPORAL_TLS_CERT_FILE: '/run/rotor/tls/worker.pem',
      ROTOR_TEMPORAL_TLS_KEY_FILE: '/run/rotor/tls/worker.key',
      ROTOR_TEMPORAL_TLS_SERVER_NAME: 'temporal.example.com',
    };
    expect(environmentOf(service(resolvedConfig({ ...REQUIRED_ENV, ...tls }), 'worker'))).toMatchObject(tls);
  });

  it('starts the worker only after PostgreSQL, Temporal and OpenBao report healthy', () => {
    const model = resolvedConfig();
    const dependsOn = service(model, 'worker').depends_on;
    expect(Array.isArray(dependsOn), 'worker depends_on must use conditions').toBe(false);
    for (const dependency of ['postgresql', 'temporal', 'openbao']) {
      expect((dependsOn as Record<string, { condition?: string }>)[dependency]?.condition, dependency).toBe('service_healthy');
      expect(service(model, dependency).healthcheck?.test, `${dependency} healthcheck`).toBeDefined();
    }
  });

  it('mounts the OpenBao config and keeps OpenBao and PostgreSQL state in named volumes', () => {
    const model = resolvedConfig();
    const targets = (svc: ComposeService) =>
      (svc.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source ?? ''}:${v.target ?? ''}`));
    expect(targets(service(model, 'openbao'))).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/stack\/compose\/openbao\.hcl:\/openbao\/config\/openbao\.hcl/),
        expect.stringMatching(/^openbao-data:\/openbao\/file/),
        expect.stringMatching(/^openbao-logs:\/openbao\/logs/),
      ]),
    );
    expect(targets(service(model, 'postgresql'))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^postgresql-data:\/var\/lib\/postgresql\/data/)]),
    );
    expect(Object.keys(model.volumes ?? {})).toEqual(expect.arrayContaining(['postgresql-data', 'openbao-data', 'openbao-logs']));
  });

  it('refuses to render without ROTOR_CODEC_KEY, naming the variable', () => {
    const env: Record<string, string> = { ...REQUIRED_ENV };
    delete env.ROTOR_CODEC_KEY;
    const result = compose(['config', '-q'], env);
    expect(result.status).not.toBe(0);
    const message = interpolationError(result.stderr);
    expect(message).toContain('ROTOR_CODEC_KEY');
    expect(message).toContain('README');
  });

  it.each(Object.keys(REQUIRED_ENV))('refuses to render without %s, naming that variable and no other', (missing) => {
    const env: Record<string, string> = { ...REQUIRED_ENV };
    delete env[missing];
    const result = compose(['config', '-q'], env);
    expect(result.status).not.toBe(0);
    const message = interpolationError(result.stderr);
    expect(message).toContain(missing);
    for (const other of Object.keys(REQUIRED_ENV).filter((k) => k !== missing)) expect(message).not.toContain(other);
  });
});

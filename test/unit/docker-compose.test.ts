import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseDuration } from '../../config/duration.js';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.js';

/**
 * Validates docker-compose.yml with Debian's standalone `docker-compose` (v1, Python), which
 * parses and interpolates the file without a Docker engine. Its `config` prints YAML; the
 * assertions also accept the long port syntax that Compose v2 prints. The Dockerfile is checked
 * against the imports of the entry points the image runs.
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
  'ROTOR_HEALTH_LISTEN',
  'ROTOR_SHUTDOWN_GRACE',
] as const;

/** Optional variables the compose worker passes from .env; empty (unset) unless .env sets them. */
const OPTIONAL_WORKER_VARIABLES = [
  'ROTOR_TEMPORAL_TLS',
  'ROTOR_TEMPORAL_TLS_CA_FILE',
  'ROTOR_TEMPORAL_TLS_CERT_FILE',
  'ROTOR_TEMPORAL_TLS_KEY_FILE',
  'ROTOR_TEMPORAL_TLS_SERVER_NAME',
  'ROTOR_IDENTITY_AUDIENCE',
  'ROTOR_IDENTITY_ISSUER',
  'ROTOR_METRICS_LISTEN',
] as const;

/**
 * Variables config/environment.ts reads that the compose worker deliberately leaves out, and why.
 * A new variable in the config module fails the test below until it is passed or listed here.
 */
const NOT_PASSED_TO_WORKER: Record<string, string> = {
  ROTOR_CODEC_PORT: "the local stack's in-process codec server; compose runs the codec server as its own service",
  ROTOR_RECONCILE_SCHEDULES: 'its default (true) is wanted: every worker reconciles schedules with the inventory at start',
};

/** What the codec server reads (workers/codec-main.ts), and nothing else: no Vault or database credential. */
const CODEC_VARIABLES = ['ROTOR_CODEC_KEY', 'ROTOR_CODEC_TOKEN', 'ROTOR_CODEC_LISTEN', 'ROTOR_CODEC_UI_ORIGIN', 'ROTOR_LOG_LEVEL'];

/** Dummy values for the variables docker-compose.yml marks required with `${VAR:?…}`. */
const REQUIRED_ENV = {
  POSTGRES_PASSWORD: 'dummy-superuser-password',
  ROTOR_DB_PASSWORD: 'dummyrotorapppassword',
  ROTOR_CODEC_KEY: Buffer.alloc(32, 7).toString('base64'),
  ROTOR_CODEC_TOKEN: 'dummy-codec-token-0123456789',
  ROTOR_VAULT_ROLE_ID: 'dummy-role-id',
  ROTOR_VAULT_SECRET_ID: 'dummy-secret-id',
  MARIADB_ROOT_PASSWORD: 'dummy-mariadb-root',
  REDIS_PASSWORD: 'dummy-redis-default',
} as const;

/** The one-shot Temporal set-up services: they run to completion instead of reporting healthy. */
const ONE_SHOT_SERVICES = ['temporal-schema', 'temporal-namespace'];

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

type DependsOn = Record<string, { condition?: string }> | string[];

interface ComposeService {
  image?: string;
  build?: unknown;
  container_name?: string;
  restart?: string;
  ports?: (string | { host_ip?: string; target?: number | string; published?: number | string })[];
  environment?: Record<string, string | null> | string[];
  depends_on?: DependsOn;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  command?: string[] | string;
  entrypoint?: string[] | string;
  stop_grace_period?: string;
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

/** `{ dependency: condition }`; the short list form has no condition. */
function dependenciesOf(svc: ComposeService): Record<string, string | undefined> {
  const dependsOn = svc.depends_on ?? {};
  if (Array.isArray(dependsOn)) return Object.fromEntries(dependsOn.map((name) => [name, undefined]));
  return Object.fromEntries(Object.entries(dependsOn).map(([name, d]) => [name, d.condition]));
}

/** Host IP of a published port: "127.0.0.1:8200:8200/tcp" (v1) or { host_ip, published } (v2). */
function hostIpOf(port: NonNullable<ComposeService['ports']>[number]): string | undefined {
  if (typeof port === 'object') return port.host_ip;
  const parts = port.replace(/\/(tcp|udp|sctp)$/, '').split(':');
  // "HOST_IP:HOST_PORT:CONTAINER_PORT" names the IP; "HOST_PORT:CONTAINER_PORT" and
  // "CONTAINER_PORT" bind every interface.
  return parts.length >= 3 ? parts.slice(0, parts.length - 2).join(':') : undefined;
}

/** Host port of a published port, undefined when Docker picks one. */
function hostPortOf(port: NonNullable<ComposeService['ports']>[number]): string | undefined {
  if (typeof port === 'object') return port.published === undefined || port.published === '' ? undefined : String(port.published);
  const parts = port.replace(/\/(tcp|udp|sctp)$/, '').split(':');
  return parts.length >= 2 ? parts[parts.length - 2] || undefined : undefined;
}

/** A Compose/Go duration ("90s", "1m30s", "2m") in milliseconds. */
function composeDuration(value: string): number {
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  expect(parts.map((p) => p[0]).join(''), `duration ${value}`).toBe(value);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
  return parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2] as keyof typeof unit], 0);
}

function healthcheckCommand(svc: ComposeService): string {
  const test = svc.healthcheck?.test;
  return Array.isArray(test) ? test.join(' ') : (test ?? '');
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

/** The ROTOR_* settings config/environment.ts declares (the keys of its zod object). */
function configModuleVariables(): string[] {
  const source = readFileSync(join(repoRoot, 'config/environment.ts'), 'utf8');
  return [...new Set([...source.matchAll(/^\s+(ROTOR_[A-Z0-9_]+):/gm)].map((m) => m[1]!))].sort();
}

describe('docker-compose.yml (validated by docker-compose config)', () => {
  it('is valid, with the required variables set', () => {
    const result = compose(['config', '-q'], REQUIRED_ENV);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('starts Temporal from temporalio/server with its schema set up by temporalio/admin-tools of the same version, the UI, PostgreSQL, OpenBao, the workers and the codec server', () => {
    const model = resolvedConfig();
    expect(Object.keys(model.services)).toEqual(
      expect.arrayContaining(['postgresql', ...ONE_SHOT_SERVICES, 'temporal', 'temporal-ui', 'openbao', 'worker', 'codec']),
    );
    const server = /^temporalio\/server:(.+)$/.exec(service(model, 'temporal').image ?? '');
    expect(server, 'temporal runs temporalio/server (auto-setup is deprecated)').not.toBeNull();
    for (const name of ONE_SHOT_SERVICES) expect(service(model, name).image, name).toBe(`temporalio/admin-tools:${server![1]}`);
    expect(service(model, 'temporal-ui').image).toMatch(/^temporalio\/ui:/);
    expect(service(model, 'postgresql').image).toMatch(/^postgres:16\./);
    expect(service(model, 'openbao').image).toMatch(/^openbao\/openbao:/);
    expect(service(model, 'worker').build).toBeDefined();
    expect(service(model, 'codec').build).toEqual(service(model, 'worker').build);
    expect(JSON.stringify(Object.values(model.services).map((s) => s.image))).not.toContain('auto-setup');
  });

  it('pins every image to an explicit version (or a digest), never latest or a bare name', () => {
    const model = resolvedConfig();
    for (const [name, svc] of Object.entries(model.services)) {
      if (svc.image === undefined) {
        expect(svc.build, `service ${name} has neither image nor build`).toBeDefined();
        continue;
      }
      const match = /^(?<repo>[a-z0-9][a-z0-9._/-]*)(?::(?<tag>[\w][\w.-]*))?(?:@sha256:(?<digest>[0-9a-f]{64}))?$/.exec(svc.image);
      expect(match, `service ${name}: image "${svc.image}"`).not.toBeNull();
      const { tag, digest } = match!.groups!;
      if (digest) continue;
      expect(tag, `service ${name}: image "${svc.image}" names no tag`).toBeDefined();
      // A version: 16.14, 1.31.2, 2.4.0, v2.4.0-suffix; not latest, stable, 16 or alpine.
      expect(tag, `service ${name}: image "${svc.image}" is not pinned to a version`).toMatch(/^v?\d+\.\d+(\.\d+)*([-_][\w.-]+)?$/);
    }
  });

  it('gives every long-running service a healthcheck; the one-shot Temporal set-ups are waited for with service_completed_successfully', () => {
    const model = resolvedConfig();
    const completionWaits = Object.values(model.services).flatMap((svc) =>
      Object.entries(dependenciesOf(svc))
        .filter(([, condition]) => condition === 'service_completed_successfully')
        .map(([name]) => name),
    );
    for (const [name, svc] of Object.entries(model.services)) {
      if (ONE_SHOT_SERVICES.includes(name)) {
        expect(completionWaits, `nothing waits for ${name} to complete`).toContain(name);
        // A one-shot restarted after it succeeded would never count as completed.
        expect(svc.restart ?? 'no', `${name} restart policy`).toBe('no');
        continue;
      }
      expect(svc.healthcheck?.disable ?? false, `${name} disables its healthcheck`).toBe(false);
      expect(healthcheckCommand(svc), `${name} has no healthcheck`).not.toBe('');
    }
  });

  it('sets up Temporal in order: schema before the server, the namespace after it, the workers last', () => {
    const model = resolvedConfig();
    expect(dependenciesOf(service(model, 'temporal-schema'))).toEqual({ postgresql: 'service_healthy' });
    expect(dependenciesOf(service(model, 'temporal'))).toMatchObject({
      postgresql: 'service_healthy',
      'temporal-schema': 'service_completed_successfully',
    });
    expect(dependenciesOf(service(model, 'temporal-namespace'))).toMatchObject({ temporal: 'service_healthy' });
    expect(dependenciesOf(service(model, 'temporal-ui'))).toMatchObject({ temporal: 'service_healthy' });
    // The server reads its persistence from the environment (the template built into the binary).
    expect(environmentOf(service(model, 'temporal'))).toMatchObject({
      DB: 'postgres12',
      POSTGRES_SEEDS: 'postgresql',
      POSTGRES_PWD: REQUIRED_ENV.POSTGRES_PASSWORD,
    });
    expect(environmentOf(service(model, 'temporal-schema'))).toMatchObject({
      SQL_PLUGIN: 'postgres12',
      SQL_HOST: 'postgresql',
      SQL_PASSWORD: REQUIRED_ENV.POSTGRES_PASSWORD,
    });
    // The set-up scripts are mounted from stack/compose/ and are what the one-shots run.
    for (const [name, script] of [
      ['temporal-schema', 'temporal-schema.sh'],
      ['temporal-namespace', 'temporal-namespace.sh'],
    ] as const) {
      const svc = service(model, name);
      const mount = (svc.volumes ?? [])
        .map((v) => (typeof v === 'string' ? v : `${v.source ?? ''}:${v.target ?? ''}`))
        .find((v) => v.includes(`stack/compose/${script}:`));
      expect(mount, `${name} mounts stack/compose/${script}`).toBeDefined();
      const target = mount!.split(':')[1]!;
      expect([svc.entrypoint, svc.command].flat(), name).toContain(target);
      expect(existsSync(join(repoRoot, 'stack/compose', script)), script).toBe(true);
    }
  });

  it('registers every search attribute rotor sets, as Keyword, in the namespace set-up', () => {
    const env = environmentOf(service(resolvedConfig(), 'temporal-namespace'));
    expect(env.NAMESPACE).toBe('default');
    const registered = (env.SEARCH_ATTRIBUTES ?? '').split(/\s+/).filter(Boolean).sort();
    expect(registered).toEqual(ALL_SEARCH_ATTRIBUTES.map((key) => `${key.name}=Keyword`).sort());
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

  it('holds no default secret: every password, token and key comes from .env through ${VAR:?…}', () => {
    const raw = readFileSync(composeFile, 'utf8');
    const secretName = /PASSWORD|PWD|TOKEN|SECRET|_KEY$|ROLE_ID/;
    // Every interpolation of a secret variable is required (no `:-`/`-` default, no bare `${VAR}`).
    const interpolations = [...raw.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}/g)];
    const secretInterpolations = interpolations.filter((m) => secretName.test(m[1]!));
    expect(secretInterpolations.map((m) => m[1])).toEqual(expect.arrayContaining(Object.keys(REQUIRED_ENV)));
    for (const m of secretInterpolations) expect(m[2], `${m[0]} must be \${${m[1]}:?…}`).toMatch(/^:\?/);
    // Every secret-named setting of every service holds such an interpolation, never a literal.
    const rawModel = parse(raw) as ComposeModel;
    for (const [name, svc] of Object.entries(rawModel.services)) {
      for (const [key, value] of Object.entries(environmentOf(svc))) {
        if (!secretName.test(key) && !/:\/\/[^/:@]+:[^@]+@/.test(value)) continue;
        expect(value, `${name}.${key}`).toMatch(/\$\{[A-Z0-9_]+:\?[^}]+\}/);
      }
    }
    // Interpolated with dummies, no secret value leaks into a command line.
    const model = resolvedConfig();
    const commands = JSON.stringify(Object.values(model.services).map((s) => [s.command, s.entrypoint, s.healthcheck]));
    for (const value of Object.values(REQUIRED_ENV)) expect(commands).not.toContain(value);
  });

  it('gives the worker every ROTOR_* variable the config module reads, and no other', () => {
    // Every variable of config/environment.ts is either passed or deliberately left out.
    expect(configModuleVariables()).toEqual(
      [...WORKER_VARIABLES, ...OPTIONAL_WORKER_VARIABLES, ...Object.keys(NOT_PASSED_TO_WORKER)].sort(),
    );
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

  it('starts the worker only after PostgreSQL, Temporal and OpenBao report healthy and the namespace is set up', () => {
    const model = resolvedConfig();
    expect(Array.isArray(service(model, 'worker').depends_on), 'worker depends_on must use conditions').toBe(false);
    const dependencies = dependenciesOf(service(model, 'worker'));
    for (const dependency of ['postgresql', 'temporal', 'openbao']) {
      expect(dependencies[dependency], dependency).toBe('service_healthy');
      expect(healthcheckCommand(service(model, dependency)), `${dependency} healthcheck`).not.toBe('');
    }
    expect(dependencies['temporal-namespace']).toBe('service_completed_successfully');
  });

  it('lets the worker scale: no container name, no fixed host port', () => {
    const model = resolvedConfig();
    const worker = service(model, 'worker');
    expect(worker.container_name).toBeUndefined();
    for (const port of worker.ports ?? []) expect(hostPortOf(port), `worker publishes ${JSON.stringify(port)}`).toBeUndefined();
    // No service pins a container name: two compose projects on one host must not collide either.
    for (const [name, svc] of Object.entries(model.services)) expect(svc.container_name, name).toBeUndefined();
  });

  it('checks worker readiness on its health listener and outlasts its shutdown grace on stop', () => {
    const worker = service(resolvedConfig(), 'worker');
    const env = environmentOf(worker);
    const port = env.ROTOR_HEALTH_LISTEN!.slice(env.ROTOR_HEALTH_LISTEN!.lastIndexOf(':') + 1);
    // Loopback is enough for a healthcheck run inside the container; nothing else needs it.
    expect(env.ROTOR_HEALTH_LISTEN).toBe(`127.0.0.1:${port}`);
    expect(healthcheckCommand(worker)).toContain(`http://127.0.0.1:${port}/readyz`);
    const grace = parseDuration(env.ROTOR_SHUTDOWN_GRACE!);
    expect(grace, 'ROTOR_SHUTDOWN_GRACE').toBeDefined();
    expect(worker.stop_grace_period, 'worker stop_grace_period').toBeDefined();
    expect(composeDuration(worker.stop_grace_period!)).toBeGreaterThan(grace!);
  });

  it('runs the codec server from the worker image with the codec key and token only, wired into the UI', () => {
    const model = resolvedConfig();
    const codec = service(model, 'codec');
    expect(codec.command).toEqual(['node', '--import', 'tsx', 'workers/codec-main.ts']);
    const env = environmentOf(codec);
    expect(Object.keys(env).sort()).toEqual([...CODEC_VARIABLES].sort());
    expect(env.ROTOR_CODEC_KEY).toBe(REQUIRED_ENV.ROTOR_CODEC_KEY);
    expect(env.ROTOR_CODEC_TOKEN).toBe(REQUIRED_ENV.ROTOR_CODEC_TOKEN);
    expect(codec.container_name).toBeUndefined();
    // The browser calls the codec server at its published address, from the UI's published origin.
    const listenPort = env.ROTOR_CODEC_LISTEN!.slice(env.ROTOR_CODEC_LISTEN!.lastIndexOf(':') + 1);
    const codecPort = (codec.ports ?? []).find((p) =>
      String(typeof p === 'object' ? p.target : p.split(':').at(-1)).startsWith(listenPort),
    );
    expect(codecPort, 'codec publishes its listen port').toBeDefined();
    const ui = service(model, 'temporal-ui');
    const uiPort = (ui.ports ?? [])[0];
    expect(uiPort).toBeDefined();
    expect(env.ROTOR_CODEC_UI_ORIGIN).toBe(`http://${hostIpOf(uiPort!)}:${hostPortOf(uiPort!)}`);
    expect(environmentOf(ui)).toMatchObject({
      TEMPORAL_CODEC_ENDPOINT: `http://${hostIpOf(codecPort!)}:${hostPortOf(codecPort!)}`,
      TEMPORAL_CODEC_INCLUDE_CREDENTIALS: 'true',
    });
    expect(healthcheckCommand(codec)).toContain(`:${listenPort}/healthz`);
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
    // The file audit device stays declared in the mounted config.
    expect(readFileSync(join(repoRoot, 'stack/compose/openbao.hcl'), 'utf8')).toMatch(/^audit "file"/m);
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

/** Relative module references: static and dynamic imports, re-exports, and `new URL('…', import.meta.url)` files. */
const MODULE_REFERENCE =
  /\b(?:import|export)\s[^'";]*?\sfrom\s*['"](\.{1,2}\/[^'"]*)['"]|\bimport\s*\(\s*['"](\.{1,2}\/[^'"]*)['"]\s*\)|\bimport\s*['"](\.{1,2}\/[^'"]*)['"]|\bnew URL\(\s*['"](\.{1,2}\/[^'"]*|\.{1,2})['"]\s*,\s*import\.meta\.url/g;

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/**
 * Every repository file reachable from `entries` through relative imports (a `.js` specifier
 * names its `.ts` source, as tsx resolves it), and the references that named no file.
 */
function reachableFiles(entries: string[]): { files: string[]; unresolved: string[] } {
  const seen = new Set<string>();
  const unresolved: string[] = [];
  const pending = entries.map((entry) => resolve(repoRoot, entry));
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    if (!/\.(ts|mts|js|mjs)$/.test(file)) continue;
    for (const match of readFileSync(file, 'utf8').matchAll(MODULE_REFERENCE)) {
      const isUrl = match[4] !== undefined;
      const target = resolve(dirname(file), (match[1] ?? match[2] ?? match[3] ?? match[4])!);
      const candidates = [
        target,
        target.replace(/\.js$/, '.ts'),
        target.replace(/\.mjs$/, '.mts'),
        `${target}.ts`,
        join(target, 'index.ts'),
      ];
      const found = candidates.find(isFile);
      if (found) pending.push(found);
      // `new URL('..', import.meta.url)` names a directory: nothing to load.
      else if (!(isUrl && existsSync(target))) unresolved.push(`${relative(repoRoot, file)} -> ${match[0]}`);
    }
  }
  return { files: [...seen].map((f) => relative(repoRoot, f)), unresolved };
}

/** The sources of the Dockerfile's COPY lines from the build context (not `--from` stages). */
function copiedFromContext(dockerfile: string): string[] {
  return dockerfile
    .split('\n')
    .filter((line) => /^COPY\s/i.test(line) && !/\s--from=/i.test(line))
    .flatMap((line) => {
      const args = line
        .trim()
        .split(/\s+/)
        .slice(1)
        .filter((arg) => !arg.startsWith('--'));
      return args.slice(0, -1).map((source) => source.replace(/^\.\//, '').replace(/\/$/, '') || '.');
    });
}

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');

  it('copies every top-level folder the entry points import', () => {
    const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(dockerfile);
    expect(cmd, 'the Dockerfile has an exec-form CMD').not.toBeNull();
    const workerEntry = (JSON.parse(cmd![1]!) as string[]).find((arg) => arg.endsWith('.ts'));
    expect(workerEntry).toBe('workers/main.ts');
    const codecCommand = (parse(readFileSync(composeFile, 'utf8')) as ComposeModel).services.codec?.command;
    const codecEntry = [codecCommand ?? []].flat().find((arg) => arg.endsWith('.ts'));
    expect(codecEntry).toBe('workers/codec-main.ts');
    // The image also carries the CLI and the migrations (README, "Running with Docker Compose").
    const { files, unresolved } = reachableFiles([workerEntry!, codecEntry!, 'cli/rotor.js', 'migrations/migrate.ts']);
    expect(unresolved, 'relative imports that name no file').toEqual([]);
    const folders = [...new Set(files.filter((f) => f.includes('/')).map((f) => f.split('/')[0]!))].sort();
    // The walk itself works: the worker reaches the Vault client and the schedules.
    expect(folders).toEqual(expect.arrayContaining(['workers', 'workflows', 'activities', 'config', 'vault', 'schedules']));
    const copied = copiedFromContext(dockerfile);
    const missing = folders.filter((folder) => !copied.includes(folder) && !copied.includes('.'));
    expect(missing, 'folders the image imports but the Dockerfile does not COPY').toEqual([]);
    for (const file of ['package.json', 'package-lock.json', 'tsconfig.json']) expect(copied, file).toContain(file);
  });

  it('keeps what the image needs out of .dockerignore and secrets out of the build context', () => {
    const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    for (const source of copiedFromContext(dockerfile)) expect(ignored, `.dockerignore drops ${source}`).not.toContain(source);
    expect(ignored).toEqual(expect.arrayContaining(['.env', '.env.*', '.rotor', 'node_modules']));
  });
});

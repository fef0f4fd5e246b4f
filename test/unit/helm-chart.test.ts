import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { parseDuration } from '../../config/duration.js';
import { loadEnvironment } from '../../config/environment.js';
import { ensureHelm } from '../../stack/tools.js';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.js';

/**
 * deploy/helm/rotor, linted and rendered by the pinned helm (stack/tools.ts builds and caches it;
 * ROTOR_HELM_BIN overrides). The assertions read the rendered manifests, not the templates.
 */

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const chart = join(repoRoot, 'deploy', 'helm', 'rotor');
// A `go install`ed helm assumes Kubernetes 1.20 (release builds set a newer one by ldflags); the
// chart needs 1.23+, so the version is explicit.
const KUBE_VERSION = '1.31.0';
const SECRET_NAME = 'rotor-credentials';
const INVENTORY = readFileSync(join(repoRoot, 'config', 'inventory.example.yaml'), 'utf8');

/** What an install must supply; everything else has a default. */
const REQUIRED_VALUES = {
  image: { repository: 'registry.example.com/rotor' },
  temporal: { address: 'temporal-frontend.temporal.svc.cluster.local:7233' },
  vault: { address: 'https://vault.vault.svc:8200' },
  secrets: { existingSecret: SECRET_NAME },
  inventory: { content: INVENTORY },
};

/** Every variable config/environment.ts reads that the worker Deployment must set. */
const WORKER_VARIABLES = [
  'ROTOR_TEMPORAL_ADDRESS',
  'ROTOR_TEMPORAL_NAMESPACE',
  'ROTOR_TASK_QUEUE',
  'ROTOR_TEMPORAL_TLS',
  'ROTOR_VAULT_ADDR',
  'ROTOR_VAULT_ROLE_ID',
  'ROTOR_VAULT_SECRET_ID',
  'ROTOR_VAULT_KV_MOUNT',
  'ROTOR_DATABASE_URL',
  'ROTOR_CODEC_KEY',
  'ROTOR_INVENTORY',
  'ROTOR_LOG_LEVEL',
  'ROTOR_RECONCILE_SCHEDULES',
  'ROTOR_HEALTH_LISTEN',
  'ROTOR_SHUTDOWN_GRACE',
] as const;
const SECRET_VARIABLES = ['ROTOR_VAULT_ROLE_ID', 'ROTOR_VAULT_SECRET_ID', 'ROTOR_DATABASE_URL', 'ROTOR_CODEC_KEY', 'ROTOR_CODEC_TOKEN'];

/** Valid stand-ins for what the Secret would hold, to check the rendered env with loadEnvironment. */
const DUMMY_SECRET_DATA: Record<string, string> = {
  ROTOR_VAULT_ROLE_ID: 'dummy-role-id',
  ROTOR_VAULT_SECRET_ID: 'dummy-secret-id',
  ROTOR_DATABASE_URL: 'postgres://rotor_app:dummy@postgresql:5432/rotor',
  ROTOR_CODEC_KEY: Buffer.alloc(32, 7).toString('base64'),
  ROTOR_CODEC_TOKEN: 'dummy-codec-token',
};

interface KeyRef {
  name: string;
  key: string;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { configMapKeyRef?: KeyRef; secretKeyRef?: KeyRef };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: { name: string; containerPort: number }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[] } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface Volume {
  name: string;
  emptyDir?: object;
  configMap?: { name: string; items?: { key: string; path: string }[] };
  secret?: { secretName: string };
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  terminationGracePeriodSeconds?: number;
  restartPolicy?: string;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  volumes?: Volume[];
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> } & Record<string, unknown>;
    strategy?: { type?: string; rollingUpdate?: { maxSurge?: number | string; maxUnavailable?: number | string } };
    template?: { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec };
    backoffLimit?: number;
    activeDeadlineSeconds?: number;
    ttlSecondsAfterFinished?: number;
    minAvailable?: number | string;
    maxUnavailable?: number | string;
    ports?: { name: string; port: number; targetPort?: string | number }[];
  };
}

let helmBin = '';
const scratch = mkdtempSync(join(tmpdir(), 'rotor-helm-test-'));
beforeAll(async () => {
  helmBin = await ensureHelm();
}, 900_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let valuesFiles = 0;
/** Runs helm with its own config/cache dirs, so a developer's repositories and plugins play no part. */
function helm(args: string[], values: object[]): { status: number; stdout: string; stderr: string } {
  const files = values.flatMap((v) => {
    const file = join(scratch, `values-${++valuesFiles}.yaml`);
    writeFileSync(file, stringify(v));
    return ['-f', file];
  });
  const result = spawnSync(helmBin, [...args, ...files], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: scratch,
      HELM_CACHE_HOME: join(scratch, 'cache'),
      HELM_CONFIG_HOME: join(scratch, 'config'),
      HELM_DATA_HOME: join(scratch, 'data'),
    },
  });
  if (result.error) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** `helm template` with the required values plus `overrides` (later files win, as with helm -f). */
function render(...overrides: object[]): Manifest[] {
  const result = helm(
    ['template', 'rotor', chart, '--namespace', 'rotor', '--kube-version', KUBE_VERSION],
    [REQUIRED_VALUES, ...overrides],
  );
  expect(result.status, `helm template failed:\n${result.stderr}`).toBe(0);
  return parseAllDocuments(result.stdout)
    .map((doc) => {
      expect(doc.errors, `rendered YAML does not parse: ${doc.errors.join('; ')}`).toEqual([]);
      return doc.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null);
}

/** stderr of a `helm template` that must fail. */
function renderError(...overrides: object[]): string {
  const result = helm(['template', 'rotor', chart, '--kube-version', KUBE_VERSION], [REQUIRED_VALUES, ...overrides]);
  expect(result.status, `helm template should have failed; it rendered:\n${result.stdout.slice(0, 2000)}`).not.toBe(0);
  return result.stderr;
}

function find(manifests: Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} rendered (have: ${manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')})`);
  return found;
}

function podSpec(manifest: Manifest): PodSpec {
  const spec = manifest.spec?.template?.spec;
  if (!spec) throw new Error(`${manifest.kind}/${manifest.metadata.name} has no pod template`);
  return spec;
}

function container(manifest: Manifest, name: string): Container {
  const found = podSpec(manifest).containers.find((c) => c.name === name);
  if (!found) throw new Error(`${manifest.metadata.name} has no container ${name}`);
  return found;
}

/**
 * The container's environment as the kubelet would resolve it: values from the rendered
 * ConfigMaps, and from the (user-created) Secret the dummy data above, checking every reference.
 */
function resolvedEnv(manifests: Manifest[], c: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of c.env ?? []) {
    const { configMapKeyRef, secretKeyRef } = variable.valueFrom ?? {};
    if (configMapKeyRef) {
      const value = find(manifests, 'ConfigMap', configMapKeyRef.name).data?.[configMapKeyRef.key];
      expect(value, `${variable.name}: ConfigMap ${configMapKeyRef.name} has no key ${configMapKeyRef.key}`).toBeDefined();
      env[variable.name] = value!;
    } else if (secretKeyRef) {
      expect(secretKeyRef.name, variable.name).toBe(SECRET_NAME);
      expect(DUMMY_SECRET_DATA[secretKeyRef.key], `${variable.name} reads Secret key ${secretKeyRef.key}`).toBeDefined();
      env[variable.name] = DUMMY_SECRET_DATA[secretKeyRef.key]!;
    } else {
      env[variable.name] = variable.value ?? '';
    }
  }
  return env;
}

const allContainers = (manifests: Manifest[]) =>
  manifests.flatMap((m) => {
    const spec = m.spec?.template?.spec;
    return spec ? [...spec.containers, ...(spec.initContainers ?? [])] : [];
  });

const WORKER = 'rotor-worker';
const CODEC = 'rotor-codec';
const SETUP = 'rotor-temporal-setup';
const EVERYTHING_ON = {
  codec: { enabled: true, uiOrigin: 'https://temporal.example.com' },
  metrics: { enabled: true },
  temporal: { tls: { enabled: true, existingSecret: 'temporal-tls', certKey: 'tls.crt', keyKey: 'tls.key', serverName: 'temporal' } },
  vault: { identityAudience: 'rotor-audience' },
};

/** The Temporal CLI's names of the search attribute types (`temporal operator search-attribute create --type`). */
const CLI_TYPE: Record<string, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};
/** `Name=Type` of every search attribute rotor's workflows upsert, as temporal-namespace.sh reads them. */
const ROTOR_SEARCH_ATTRIBUTES = ALL_SEARCH_ATTRIBUTES.map((key) => `${key.name}=${CLI_TYPE[key.type]}`).sort();

/**
 * A stand-in for the Temporal CLI: records every call (its arguments, tab-separated) and keeps the
 * namespace and its search attributes as files under $FAKE_TEMPORAL_STATE, so the set-up script can
 * be run as the Job would run it.
 */
const FAKE_TEMPORAL = `#!/bin/sh
state=$FAKE_TEMPORAL_STATE
printf '%s\\t' "$@" >> "$state/calls"
echo >> "$state/calls"
case "$1 $2 $3" in
  'operator cluster health') exit 0 ;;
  'operator namespace describe') test -f "$state/namespace" ;;
  'operator namespace create')
    if [ -n "$FAKE_CREATE_ERROR" ]; then echo "$FAKE_CREATE_ERROR" >&2; exit 1; fi
    touch "$state/namespace" ;;
  'operator search-attribute list') cat "$state/attributes" ;;
  'operator search-attribute create')
    shift 3
    while [ $# -gt 0 ]; do
      if [ "$1" = --name ]; then printf '  %s  Keyword\\n' "$2" >> "$state/attributes"; fi
      shift
    done ;;
  *) echo "unexpected call: $*" >&2; exit 2 ;;
esac
`;

/**
 * Runs the set-up Job's container command (its script, with its environment) against the fake CLI,
 * with the namespace and the attributes in `existing` already registered; returns the CLI calls.
 */
function runSetupJob(
  manifests: Manifest[],
  existing: { namespace: boolean; attributes: string[] },
  extraEnv: Record<string, string> = {},
): { status: number | null; stderr: string; calls: string[][] } {
  const c = container(find(manifests, 'Job', SETUP), 'temporal-setup');
  const dir = mkdtempSync(join(scratch, 'temporal-setup-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'temporal'), FAKE_TEMPORAL);
  chmodSync(join(bin, 'temporal'), 0o755);
  if (existing.namespace) writeFileSync(join(dir, 'namespace'), '');
  writeFileSync(join(dir, 'attributes'), existing.attributes.map((name) => `  ${name}  Keyword\n`).join(''));
  writeFileSync(join(dir, 'calls'), '');
  // The Job reads no Secret or ConfigMap: plain values only.
  for (const variable of c.env ?? []) expect(variable.valueFrom, variable.name).toBeUndefined();
  const env = Object.fromEntries((c.env ?? []).map((v) => [v.name, v.value ?? '']));
  const [shell, ...args] = c.command ?? [];
  const result = spawnSync(shell!, args, {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...env, HOME: dir, PATH: `${bin}:${process.env.PATH ?? ''}`, FAKE_TEMPORAL_STATE: dir, FAKE_CREATE_ERROR: '', ...extraEnv },
  });
  if (result.error) throw result.error;
  const calls = readFileSync(join(dir, 'calls'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.replace(/\t$/, '').split('\t'));
  return { status: result.status, stderr: result.stderr, calls };
}

/** The value following `flag` in a CLI call. */
const flagValue = (call: string[], flag: string) => {
  const at = call.indexOf(flag);
  return at < 0 ? undefined : call[at + 1];
};

describe('deploy/helm/rotor (helm lint, helm template)', () => {
  it('passes helm lint --strict with the required values, and with every option on', () => {
    for (const overrides of [[], [EVERYTHING_ON]]) {
      const result = helm(['lint', chart, '--strict', '--kube-version', KUBE_VERSION], [REQUIRED_VALUES, ...overrides]);
      expect(result.status, `helm lint failed:\n${result.stdout}\n${result.stderr}`).toBe(0);
      expect(result.stdout).toContain('0 chart(s) failed');
    }
  });

  it('refuses to render without the Secret, naming existingSecret and the keys it must hold', () => {
    const stderr = renderError({ secrets: { existingSecret: '' } });
    expect(stderr).toContain('secrets.existingSecret is required');
    expect(stderr).toContain('ROTOR_VAULT_SECRET_ID');
  });

  it.each([
    ['image.repository', { image: { repository: '' } }],
    ['temporal.address', { temporal: { address: '' } }],
    ['vault.address', { vault: { address: '' } }],
    ['inventory', { inventory: { content: '' } }],
    ['codec.uiOrigin', { codec: { enabled: true } }],
  ])('refuses to render without %s, naming it', (name, overrides) => {
    expect(renderError(overrides)).toContain(name);
  });

  it('refuses inconsistent values: the latest tag, half an mTLS pair, TLS files with TLS off', () => {
    expect(renderError({ image: { tag: 'latest' } })).toContain('must not be `latest`');
    expect(renderError({ temporal: { tls: { enabled: true, existingSecret: 'temporal-tls', certKey: 'tls.crt' } } })).toContain(
      'both temporal.tls.certKey and temporal.tls.keyKey',
    );
    expect(renderError({ temporal: { tls: { existingSecret: 'temporal-tls' } } })).toContain('temporal.tls.enabled is false');
  });

  it('renders the worker, its settings, the inventory, a PDB and a ServiceAccount by default; no Secret, codec or metrics', () => {
    const kinds = render()
      .map((m) => `${m.kind}/${m.metadata.name}`)
      .sort();
    expect(kinds).toEqual([
      'ConfigMap/rotor-config',
      'ConfigMap/rotor-inventory',
      'Deployment/rotor-worker',
      'Job/rotor-temporal-setup',
      'PodDisruptionBudget/rotor-worker',
      'ServiceAccount/rotor',
    ]);
  });

  it('holds no secret: no Secret object in any rendering, and every credential is a secretKeyRef', () => {
    for (const manifests of [render(), render(EVERYTHING_ON)]) {
      expect(manifests.filter((m) => m.kind === 'Secret')).toEqual([]);
      for (const c of allContainers(manifests)) {
        for (const variable of c.env ?? []) {
          if (!SECRET_VARIABLES.includes(variable.name)) continue;
          expect(variable.value, `${c.name} ${variable.name} has a literal value`).toBeUndefined();
          expect(variable.valueFrom?.secretKeyRef?.name, `${c.name} ${variable.name}`).toBe(SECRET_NAME);
        }
      }
      // Nor do the settings ConfigMaps carry a credential.
      for (const m of manifests.filter((m) => m.kind === 'ConfigMap')) {
        for (const key of SECRET_VARIABLES) expect(m.data?.[key], `${m.metadata.name} ${key}`).toBeUndefined();
      }
    }
  });

  it('probes /livez (startup, liveness) and /readyz (readiness) on the port ROTOR_HEALTH_LISTEN serves', () => {
    for (const [manifests, port] of [
      [render(), 8081],
      [render({ worker: { healthPort: 9100 } }), 9100],
    ] as const) {
      const deployment = find(manifests, 'Deployment', WORKER);
      const worker = container(deployment, 'worker');
      const healthPort = worker.ports?.find((p) => p.name === 'health');
      expect(healthPort?.containerPort).toBe(port);
      expect(resolvedEnv(manifests, worker).ROTOR_HEALTH_LISTEN).toBe(`0.0.0.0:${port}`);
      expect(worker.startupProbe?.httpGet).toEqual({ path: '/livez', port: 'health' });
      expect(worker.livenessProbe?.httpGet).toEqual({ path: '/livez', port: 'health' });
      expect(worker.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'health' });
    }
  });

  it('gives Kubernetes a longer grace period than the worker takes to drain (ROTOR_SHUTDOWN_GRACE)', () => {
    for (const [overrides, graceSeconds] of [
      [{}, 60],
      [{ worker: { shutdownGraceSeconds: 300 } }, 300],
    ] as const) {
      const manifests = render(overrides);
      const deployment = find(manifests, 'Deployment', WORKER);
      const grace = resolvedEnv(manifests, container(deployment, 'worker')).ROTOR_SHUTDOWN_GRACE;
      expect(parseDuration(grace ?? '')).toBe(graceSeconds * 1000);
      const termination = podSpec(deployment).terminationGracePeriodSeconds ?? 30;
      expect(termination).toBeGreaterThanOrEqual(graceSeconds + 10);
    }
  });

  it('sets every variable the worker reads, from the ConfigMap and the Secret, and config/environment.ts accepts them', () => {
    for (const overrides of [{}, EVERYTHING_ON]) {
      const manifests = render(overrides);
      const worker = container(find(manifests, 'Deployment', WORKER), 'worker');
      const env = resolvedEnv(manifests, worker);
      for (const name of WORKER_VARIABLES) expect(env[name], name).toBeTruthy();
      const names = (worker.env ?? []).map((v) => v.name);
      expect(new Set(names).size, `duplicate env entries: ${names.join(', ')}`).toBe(names.length);
      expect(() => loadEnvironment(env)).not.toThrow();
    }
    const env = resolvedEnv(render(), container(find(render(), 'Deployment', WORKER), 'worker'));
    expect(env).toMatchObject({
      ROTOR_TEMPORAL_ADDRESS: REQUIRED_VALUES.temporal.address,
      ROTOR_VAULT_ADDR: REQUIRED_VALUES.vault.address,
      ROTOR_TEMPORAL_TLS: 'false',
      ROTOR_TASK_QUEUE: 'rotor',
      ROTOR_VAULT_KV_MOUNT: 'rotor',
    });
  });

  it('mounts the Temporal TLS Secret where ROTOR_TEMPORAL_TLS_*_FILE point', () => {
    const manifests = render(EVERYTHING_ON);
    const deployment = find(manifests, 'Deployment', WORKER);
    const worker = container(deployment, 'worker');
    const env = resolvedEnv(manifests, worker);
    const mount = worker.volumeMounts?.find((m) => m.name === 'temporal-tls');
    expect(podSpec(deployment).volumes?.find((v) => v.name === 'temporal-tls')?.secret?.secretName).toBe('temporal-tls');
    expect(env).toMatchObject({
      ROTOR_TEMPORAL_TLS: 'true',
      ROTOR_TEMPORAL_TLS_CA_FILE: `${mount?.mountPath}/ca.crt`,
      ROTOR_TEMPORAL_TLS_CERT_FILE: `${mount?.mountPath}/tls.crt`,
      ROTOR_TEMPORAL_TLS_KEY_FILE: `${mount?.mountPath}/tls.key`,
      ROTOR_TEMPORAL_TLS_SERVER_NAME: 'temporal',
    });
  });

  it('mounts the inventory ConfigMap where ROTOR_INVENTORY points (its own, or an existing one)', () => {
    for (const [overrides, configMap] of [
      [{}, 'rotor-inventory'],
      [{ inventory: { content: '', existingConfigMap: 'my-inventory', key: 'rotor.yaml' } }, 'my-inventory'],
    ] as const) {
      const manifests = render(overrides);
      const deployment = find(manifests, 'Deployment', WORKER);
      const worker = container(deployment, 'worker');
      const volume = podSpec(deployment).volumes?.find((v) => v.configMap?.name === configMap);
      expect(volume, `no volume of ConfigMap ${configMap}`).toBeDefined();
      const mount = worker.volumeMounts?.find((m) => m.name === volume?.name);
      const item = volume?.configMap?.items?.[0];
      expect(resolvedEnv(manifests, worker).ROTOR_INVENTORY).toBe(`${mount?.mountPath}/${item?.path}`);
      if (configMap === 'rotor-inventory') {
        expect(item?.key).toBe('inventory.yaml');
        expect(find(manifests, 'ConfigMap', configMap).data?.['inventory.yaml']).toBe(INVENTORY);
      } else {
        expect(item?.key).toBe('rotor.yaml');
        expect(manifests.some((m) => m.kind === 'ConfigMap' && m.metadata.name === 'rotor-inventory')).toBe(false);
      }
    }
  });

  it('keeps a worker polling through drains and rollouts: a PDB on the worker pods, maxUnavailable 0', () => {
    const manifests = render();
    const deployment = find(manifests, 'Deployment', WORKER);
    const pdb = find(manifests, 'PodDisruptionBudget', WORKER);
    expect(pdb.apiVersion).toBe('policy/v1');
    expect(pdb.spec?.minAvailable).toBe(1);
    expect(deployment.spec?.template?.metadata.labels).toMatchObject(pdb.spec?.selector?.matchLabels ?? { missing: 'selector' });
    expect(deployment.spec?.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    expect(deployment.spec?.replicas).toBeGreaterThanOrEqual(2);
    const other = find(render({ podDisruptionBudget: { maxUnavailable: 1 } }), 'PodDisruptionBudget', WORKER);
    expect(other.spec).toMatchObject({ maxUnavailable: 1 });
    expect(other.spec?.minAvailable).toBeUndefined();
  });

  it('runs non-root with a read-only root filesystem, no capabilities and a writable /tmp', () => {
    const manifests = render(EVERYTHING_ON);
    for (const [kind, name] of [
      ['Deployment', WORKER],
      ['Deployment', CODEC],
      ['Job', SETUP],
    ] as const) {
      const deployment = find(manifests, kind, name);
      const spec = podSpec(deployment);
      expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      for (const c of spec.containers) {
        expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
        expect(c.securityContext?.capabilities?.drop).toEqual(['ALL']);
        const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
        expect(spec.volumes?.find((v) => v.name === tmp?.name)?.emptyDir, `${name}: /tmp is an emptyDir`).toBeDefined();
      }
    }
  });

  it('runs the worker with the image command by default', () => {
    const worker = container(find(render(), 'Deployment', WORKER), 'worker');
    // args, not command: the image's ENTRYPOINT (tini) stays PID 1 and passes SIGTERM on at once.
    expect(worker.command).toBeUndefined();
    expect(worker.args).toEqual(['node', '--max-semi-space-size=32', '--import', 'tsx', 'workers/main.ts']);
  });

  it('renders the codec server (Deployment and Service) only when enabled', () => {
    expect(render().filter((m) => m.metadata.name === CODEC)).toEqual([]);
    const manifests = render({ codec: { enabled: true, uiOrigin: 'https://temporal.example.com' } });
    const deployment = find(manifests, 'Deployment', CODEC);
    const codec = container(deployment, 'codec');
    expect(codec.command).toBeUndefined();
    expect(codec.args).toEqual(['node', '--import', 'tsx', 'workers/codec-main.ts']);
    expect(resolvedEnv(manifests, codec)).toMatchObject({
      ROTOR_CODEC_KEY: DUMMY_SECRET_DATA.ROTOR_CODEC_KEY,
      ROTOR_CODEC_TOKEN: DUMMY_SECRET_DATA.ROTOR_CODEC_TOKEN,
      ROTOR_CODEC_LISTEN: '0.0.0.0:8288',
      ROTOR_CODEC_UI_ORIGIN: 'https://temporal.example.com',
    });
    expect(codec.ports).toEqual([expect.objectContaining({ name: 'http', containerPort: 8288 })]);
    expect(codec.readinessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(codec.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    const service = find(manifests, 'Service', CODEC);
    expect(service.spec?.ports).toEqual([expect.objectContaining({ port: 8288, targetPort: 'http' })]);
    expect(service.spec?.selector).toEqual(deployment.spec?.selector?.matchLabels);
  });

  it('exposes a `metrics` port (9464) and its Service only when metrics.enabled', () => {
    const off = container(find(render(), 'Deployment', WORKER), 'worker');
    expect(off.ports?.map((p) => p.name)).toEqual(['health']);
    const manifests = render({ metrics: { enabled: true } });
    const on = container(find(manifests, 'Deployment', WORKER), 'worker');
    expect(on.ports?.find((p) => p.name === 'metrics')?.containerPort).toBe(9464);
    expect(find(manifests, 'Service', 'rotor-metrics').spec?.ports).toEqual([
      expect.objectContaining({ port: 9464, targetPort: 'metrics' }),
    ]);
    // The worker binds where the port points, and only when asked.
    expect(resolvedEnv(manifests, on).ROTOR_METRICS_LISTEN).toBe('0.0.0.0:9464');
    expect(resolvedEnv(render(), off)).not.toHaveProperty('ROTOR_METRICS_LISTEN');
  });

  it('with the Prometheus Operator: a ServiceMonitor on the metrics Service and the alert rules as a PrometheusRule', () => {
    const kinds = (manifests: Manifest[]) => manifests.map((m) => m.kind);
    expect(kinds(render({ metrics: { enabled: true } }))).not.toContain('ServiceMonitor');
    expect(kinds(render({ metrics: { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true } } }))).not.toContain(
      'PrometheusRule',
    );
    const manifests = render({
      metrics: {
        enabled: true,
        serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus-stack' } },
        prometheusRule: { enabled: true, labels: { release: 'kube-prometheus-stack' } },
      },
    });
    const monitor = find(manifests, 'ServiceMonitor', 'rotor-metrics') as Manifest & {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] };
    };
    expect(monitor.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
    expect(monitor.spec.endpoints).toEqual([expect.objectContaining({ port: 'metrics', path: '/metrics' })]);
    // It selects the metrics Service (by its labels) and no other Service the chart renders.
    const selects = (m: Manifest) => Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => m.metadata.labels?.[k] === v);
    expect(manifests.filter((m) => m.kind === 'Service' && selects(m)).map((m) => m.metadata.name)).toEqual(['rotor-metrics']);

    const rules = readFileSync(join(repoRoot, 'deploy', 'prometheus', 'rotor-alerts.yml'), 'utf8');
    expect(readFileSync(join(chart, 'files', 'rotor-alerts.yml'), 'utf8'), "the chart's copy of the alert rules").toBe(rules);
    const rule = find(manifests, 'PrometheusRule', 'rotor-alerts') as Manifest & { spec: { groups: unknown } };
    expect(rule.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
    expect(rule.spec.groups).toEqual((parseAllDocuments(rules)[0]!.toJS() as { groups: unknown }).groups);
  });

  it('pins every image (the chart appVersion by default, or a digest); never latest', () => {
    const chartYaml = readFileSync(join(chart, 'Chart.yaml'), 'utf8');
    const appVersion = /^appVersion:\s*['"]?([^'"\s]+)/m.exec(chartYaml)?.[1];
    for (const [overrides, expected] of [
      [EVERYTHING_ON, `registry.example.com/rotor:${appVersion}`],
      [{ ...EVERYTHING_ON, image: { tag: '1.2.3' } }, 'registry.example.com/rotor:1.2.3'],
      [{ ...EVERYTHING_ON, image: { digest: `sha256:${'a'.repeat(64)}` } }, `registry.example.com/rotor@sha256:${'a'.repeat(64)}`],
    ] as const) {
      // rotor's image in the worker and the codec server; the set-up Job runs admin-tools (below).
      const containers = allContainers(render(overrides).filter((m) => m.kind === 'Deployment'));
      expect(containers.length).toBe(2);
      for (const c of containers) {
        expect(c.image, c.name).toBe(expected);
        expect(c.image).not.toMatch(/:latest$/);
      }
    }
  });

  it('with secrets.envFile (Vault Agent injector), reads the credentials from that file before starting node', () => {
    const manifests = render({ secrets: { existingSecret: '', envFile: '/vault/secrets/rotor.env' } });
    const worker = container(find(manifests, 'Deployment', WORKER), 'worker');
    expect(worker.args?.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(worker.args?.slice(3)).toEqual([
      '/vault/secrets/rotor.env',
      'node',
      '--max-semi-space-size=32',
      '--import',
      'tsx',
      'workers/main.ts',
    ]);
    expect((worker.env ?? []).filter((v) => v.valueFrom?.secretKeyRef)).toEqual([]);
    expect(renderError({ secrets: { envFile: '/vault/secrets/rotor.env' } })).toContain('not both');
  });

  it('rolls the workers on an inventory change: its content, or inventory.revision with an existing ConfigMap', () => {
    const checksum = (...overrides: object[]) =>
      find(render(...overrides), 'Deployment', WORKER).spec?.template?.metadata.annotations?.['checksum/inventory'];
    // Unchanged for inventory.content (no roll on upgrading the chart), and it follows the content.
    expect(checksum()).toBe(createHash('sha256').update(INVENTORY).digest('hex'));
    expect(checksum({ inventory: { content: `${INVENTORY}\n# one more line\n` } })).not.toBe(checksum());
    // The chart cannot see an existing ConfigMap: only a new revision changes the pod template.
    const existing = { inventory: { content: '', existingConfigMap: 'my-inventory' } };
    const revisions = ['', 'a1b2c3', 'd4e5f6'].map((revision) => checksum(existing, { inventory: { revision } }));
    expect(new Set(revisions).size).toBe(3);
    expect(checksum(existing, { inventory: { revision: 'a1b2c3' } })).toBe(revisions[1]);
  });

  describe('the temporal-setup hook Job (namespace and search attributes)', () => {
    it('renders by default as a pre-install/pre-upgrade hook with the pinned admin-tools image', () => {
      const job = find(render(), 'Job', SETUP);
      expect(job.apiVersion).toBe('batch/v1');
      expect(job.metadata.annotations).toMatchObject({
        'helm.sh/hook': 'pre-install,pre-upgrade',
        'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
      });
      expect(job.spec).toMatchObject({ backoffLimit: 2, activeDeadlineSeconds: 240, ttlSecondsAfterFinished: 3600 });
      // Below helm's default --timeout (5m), so a stuck Job fails as a Job, not as a helm timeout.
      expect(job.spec?.activeDeadlineSeconds).toBeLessThan(300);
      const spec = podSpec(job);
      expect(spec.restartPolicy).toBe('Never');
      expect(spec.automountServiceAccountToken).toBe(false);
      // The chart's ServiceAccount is created after pre-install hooks: the Job must not need it.
      expect(spec.serviceAccountName).toBeUndefined();
      const c = container(job, 'temporal-setup');
      expect(c.image).toBe('temporalio/admin-tools:1.31.2');
      expect(container(find(render({ temporalSetup: { image: { tag: '1.29.1' } } }), 'Job', SETUP), 'temporal-setup').image).toBe(
        'temporalio/admin-tools:1.29.1',
      );
      const digest = `sha256:${'b'.repeat(64)}`;
      expect(container(find(render({ temporalSetup: { image: { digest } } }), 'Job', SETUP), 'temporal-setup').image).toBe(
        `temporalio/admin-tools@${digest}`,
      );
      expect(renderError({ temporalSetup: { image: { tag: 'latest' } } })).toContain('temporalSetup.image.tag');
    });

    it('runs stack/compose/temporal-namespace.sh with the namespace, its retention and the three search attributes', () => {
      const script = readFileSync(join(repoRoot, 'stack', 'compose', 'temporal-namespace.sh'), 'utf8');
      expect(readFileSync(join(chart, 'files', 'temporal-namespace.sh'), 'utf8'), "the chart's copy of the script").toBe(script);
      for (const [overrides, namespace, retention] of [
        [{}, 'default', '720h'],
        [{ temporal: { namespace: 'payments' }, temporalSetup: { namespaceRetention: '168h' } }, 'payments', '168h'],
      ] as const) {
        const c = container(find(render(overrides), 'Job', SETUP), 'temporal-setup');
        expect(c.command?.slice(0, 2)).toEqual(['/bin/sh', '-c']);
        expect(c.command?.[2]).toBe(script);
        const env = Object.fromEntries((c.env ?? []).map((v) => [v.name, v.value]));
        expect(env).toMatchObject({
          TEMPORAL_ADDRESS: REQUIRED_VALUES.temporal.address,
          NAMESPACE: namespace,
          NAMESPACE_RETENTION: retention,
        });
        expect((env.SEARCH_ATTRIBUTES ?? '').split(/\s+/).filter(Boolean).sort()).toEqual(ROTOR_SEARCH_ATTRIBUTES);
        expect(env).not.toHaveProperty('TLS_ENABLED');
      }
    });

    it('creates only what is missing: the namespace and each search attribute, checked first', () => {
      const manifests = render({ temporal: { namespace: 'payments' } });
      const fresh = runSetupJob(manifests, { namespace: false, attributes: [] });
      expect(fresh.status, fresh.stderr).toBe(0);
      const creates = fresh.calls.filter((call) => call[2] === 'create');
      expect(creates.map((call) => `${call[1]} ${flagValue(call, '--name') ?? flagValue(call, '--namespace')}`).sort()).toEqual(
        ['namespace payments', ...ROTOR_SEARCH_ATTRIBUTES.map((a) => `search-attribute ${a.split('=')[0]}`)].sort(),
      );
      expect(flagValue(creates.find((call) => call[1] === 'namespace')!, '--retention')).toBe('720h');
      for (const call of creates.filter((c) => c[1] === 'search-attribute')) {
        expect(flagValue(call, '--namespace')).toBe('payments');
        expect(`${flagValue(call, '--name')}=${flagValue(call, '--type')}`).toMatch(/=Keyword$/);
      }
      for (const call of fresh.calls) {
        expect(flagValue(call, '--address'), call.join(' ')).toBe(REQUIRED_VALUES.temporal.address);
        expect(call).not.toContain('--tls');
      }
      // A second run (every helm upgrade) finds everything and creates nothing.
      const again = runSetupJob(manifests, { namespace: true, attributes: ALL_SEARCH_ATTRIBUTES.map((key) => key.name) });
      expect(again.status, again.stderr).toBe(0);
      expect(again.calls.filter((call) => call[2] === 'create')).toEqual([]);
      expect(again.calls.map((call) => call.slice(0, 3).join(' '))).toContain('operator search-attribute list');
    });

    it('shows the error of a create that fails, at the first attempt, and fails the Job', () => {
      const error = 'Request unauthorized: caller may not create namespaces';
      const result = runSetupJob(
        render({ temporal: { namespace: 'payments' } }),
        { namespace: false, attributes: [] },
        {
          ATTEMPTS: '2',
          PAUSE: '0',
          FAKE_CREATE_ERROR: error,
        },
      );
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain(`creating namespace payments failed (attempt 1/2): ${error}`);
      expect(result.stderr).toContain('gave up on namespace payments after 2 attempts');
    });

    it("with temporal.tls, mounts the workers' TLS Secret and passes --tls, --tls-ca-path, --tls-cert-path, --tls-key-path, --tls-server-name", () => {
      const manifests = render(EVERYTHING_ON);
      const job = find(manifests, 'Job', SETUP);
      const c = container(job, 'temporal-setup');
      const mount = c.volumeMounts?.find((m) => m.name === 'temporal-tls');
      expect(mount).toMatchObject({ mountPath: '/etc/rotor/temporal-tls', readOnly: true });
      expect(podSpec(job).volumes?.find((v) => v.name === 'temporal-tls')?.secret?.secretName).toBe('temporal-tls');
      // The same files as the worker's.
      const workerEnv = resolvedEnv(manifests, container(find(manifests, 'Deployment', WORKER), 'worker'));
      const { status, stderr, calls } = runSetupJob(manifests, { namespace: false, attributes: [] });
      expect(status, stderr).toBe(0);
      expect(calls.length).toBeGreaterThanOrEqual(6);
      for (const call of calls) {
        expect(call, call.join(' ')).toContain('--tls');
        expect(flagValue(call, '--tls-ca-path')).toBe(workerEnv.ROTOR_TEMPORAL_TLS_CA_FILE);
        expect(flagValue(call, '--tls-cert-path')).toBe(workerEnv.ROTOR_TEMPORAL_TLS_CERT_FILE);
        expect(flagValue(call, '--tls-key-path')).toBe(workerEnv.ROTOR_TEMPORAL_TLS_KEY_FILE);
        expect(flagValue(call, '--tls-server-name')).toBe('temporal');
      }
      // TLS with a publicly signed certificate: --tls alone, nothing mounted.
      const plain = render({ temporal: { tls: { enabled: true } } });
      expect(container(find(plain, 'Job', SETUP), 'temporal-setup').volumeMounts?.map((m) => m.name)).toEqual(['tmp']);
      for (const call of runSetupJob(plain, { namespace: true, attributes: [] }).calls) {
        expect(call).toContain('--tls');
        for (const flag of ['--tls-ca-path', '--tls-cert-path', '--tls-key-path', '--tls-server-name']) expect(call).not.toContain(flag);
      }
    });

    it('renders no Job when temporalSetup.enabled is false', () => {
      expect(render({ temporalSetup: { enabled: false } }).filter((m) => m.kind === 'Job')).toEqual([]);
    });
  });
});

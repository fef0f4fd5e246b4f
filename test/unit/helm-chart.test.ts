import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { parseDuration } from '../../config/duration.js';
import { loadEnvironment } from '../../config/environment.js';
import { ensureHelm } from '../../stack/tools.js';

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
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  volumes?: Volume[];
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> } & Record<string, unknown>;
    strategy?: { type?: string; rollingUpdate?: { maxSurge?: number | string; maxUnavailable?: number | string } };
    template?: { metadata: { labels?: Record<string, string> }; spec: PodSpec };
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
const EVERYTHING_ON = {
  codec: { enabled: true, uiOrigin: 'https://temporal.example.com' },
  metrics: { enabled: true },
  temporal: { tls: { enabled: true, existingSecret: 'temporal-tls', certKey: 'tls.crt', keyKey: 'tls.key', serverName: 'temporal' } },
  vault: { identityAudience: 'rotor-audience' },
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
    for (const name of [WORKER, CODEC]) {
      const deployment = find(manifests, 'Deployment', name);
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
    expect(worker.command).toEqual(['node', '--max-semi-space-size=32', '--import', 'tsx', 'workers/main.ts']);
  });

  it('renders the codec server (Deployment and Service) only when enabled', () => {
    expect(render().filter((m) => m.metadata.name === CODEC)).toEqual([]);
    const manifests = render({ codec: { enabled: true, uiOrigin: 'https://temporal.example.com' } });
    const deployment = find(manifests, 'Deployment', CODEC);
    const codec = container(deployment, 'codec');
    expect(codec.command).toEqual(['node', '--import', 'tsx', 'workers/codec-main.ts']);
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

  it('pins every image (the chart appVersion by default, or a digest); never latest', () => {
    const chartYaml = readFileSync(join(chart, 'Chart.yaml'), 'utf8');
    const appVersion = /^appVersion:\s*['"]?([^'"\s]+)/m.exec(chartYaml)?.[1];
    for (const [overrides, expected] of [
      [EVERYTHING_ON, `registry.example.com/rotor:${appVersion}`],
      [{ ...EVERYTHING_ON, image: { tag: '1.2.3' } }, 'registry.example.com/rotor:1.2.3'],
      [{ ...EVERYTHING_ON, image: { digest: `sha256:${'a'.repeat(64)}` } }, `registry.example.com/rotor@sha256:${'a'.repeat(64)}`],
    ] as const) {
      const containers = allContainers(render(overrides));
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
    expect(worker.command?.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(worker.command?.slice(3)).toEqual([
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
});

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bootstrapAudit } from './bootstrap-audit.js';
import { bootstrapPostgres } from './bootstrap-postgres.js';
import { bootstrapIdentity } from './bootstrap-identity.js';
import { bootstrapVault, KV_MOUNT } from './bootstrap-vault.js';
import { bootstrapIam, type IamRoot } from './bootstrap-iam.js';
import { bootstrapMariadb } from './bootstrap-mariadb.js';
import { bootstrapRedis } from './bootstrap-redis.js';
import { startIam } from './iam-server.js';
import { startMariadb } from './mariadb-server.js';
import { startRedis } from './redis-server.js';
import type { ManagedProcess } from './managed-process.js';
import { assertPortsFree, portsFor, type Ports, type StackMode } from './ports.js';
import { startPostgres, stopLeftoverPostgres, type PostgresServer } from './postgres-server.js';
import { recordProcess, running, stopLeftoverProcesses } from './recorded-processes.js';
import { info, step } from './progress.js';
import { startTemporal } from './temporal-server.js';
import { ensurePrometheus, ensureTools } from './tools.js';
import { addScrapeTarget, startPrometheus } from './prometheus-server.js';
import { startVault } from './vault-server.js';
import { startCodecServer } from '../workers/codec-server.js';
import { startUiGateway, UI_CODEC_PATH } from './ui-gateway.js';
import { createLogger } from '../workers/logger.js';
import { StackError } from './stack-error.js';
import { REPO_ROOT } from '../config/repo-root.js';
import { loadInventory } from '../config/load-inventory.js';
import { CODEC_KEY_PATH } from '../vault/policies/operator-policy.js';
import { VaultClient } from '../vault/vault-client.js';

export interface Stack {
  mode: StackMode;
  stateDir: string;
  ports: Ports;
  /** ROTOR_* variables for workers and the CLI (see config/environment.ts). */
  env: Record<string, string>;
  vaultRootToken: string;
  /** The UI's codec endpoint and its access token (local only, like the root token). */
  codec: { url: string; token: string };
  postgres: { host: string; port: number; superuser: string; superuserPassword: string };
  /** MariaDB (mysql provider): root@127.0.0.1 and the CA of its TLS certificate. */
  mariadb: { host: string; port: number; rootUser: string; rootPassword: string; caFile: string };
  /** Redis (redis-acl provider): the `default` user's password. */
  redis: { host: string; port: number; defaultPassword: string };
  /** The IAM-compatible endpoint (moto; aws-iam-access-key provider) and an administrator's key for tests. */
  iam: { endpoint: string; region: string; root: IamRoot };
  /** Local and test modes: Prometheus (scraping the workers listed in `targetsDir`, evaluating rotor's alert rules). */
  prometheus?: { url: string; targetsDir: string };
  /** Local operators' userpass passwords (`rotor login <name>`); production people log in with OIDC/LDAP. */
  operators: Record<string, string>;
  stop(): Promise<void>;
}

/** What tests and the CLI read to find a running stack; 0600 because it holds local-only tokens. */
export interface StackFile extends Omit<Stack, 'stop'> {
  /** Servers (and `npm start`'s worker, see recorded-processes.ts) a later launcher stops if we were killed. */
  pids: Record<string, number>;
}

export function stateDirFor(mode: StackMode): string {
  return process.env.ROTOR_STATE_DIR ?? join(REPO_ROOT, '.rotor', mode);
}

export async function readStackFile(mode: StackMode): Promise<StackFile> {
  return JSON.parse(await readFile(join(stateDirFor(mode), 'stack.json'), 'utf8')) as StackFile;
}

/**
 * One launcher per state dir. A live owner means another `npm start`/`npm test` is using it;
 * a dead one means it was killed, and its servers are stale (stopped below).
 */
async function claimStateDir(stateDir: string): Promise<void> {
  const lock = join(stateDir, 'launcher.pid');
  if (existsSync(lock)) {
    const owner = Number((await readFile(lock, 'utf8')).trim());
    if (owner && owner !== process.pid && (await running(owner))) {
      throw new StackError(
        `another rotor launcher (pid ${owner}) is using ${stateDir}`,
        `wait for it to finish or stop it (kill ${owner}); to run beside it use another ROTOR_STATE_DIR and other ports (ROTOR_*_PORT)`,
      );
    }
  }
  await writeFile(lock, String(process.pid));
}

/**
 * Starts PostgreSQL, the Vault API server and Temporal for `mode`, bootstraps them, and writes
 * stack.json. On any failure everything already started is stopped again.
 */
export async function up(mode: StackMode): Promise<Stack> {
  const tools = await ensureTools();
  // Metrics are for `npm start` and the tests; benchmarks and fault injection run without them.
  const withPrometheus = mode === 'local' || mode === 'test';
  const prometheusBin = withPrometheus ? (await ensurePrometheus()).prometheus : undefined;
  // The worker's Vault policy is rendered from it: an invalid inventory stops here, before any server starts.
  const inventoryFile = process.env.ROTOR_INVENTORY ?? join(REPO_ROOT, 'config', 'inventory.example.yaml');
  const inventory = await loadInventory(inventoryFile);
  const ports = portsFor(mode);
  const stateDir = stateDirFor(mode);
  await mkdir(stateDir, { recursive: true, mode: 0o755 });
  await claimStateDir(stateDir);
  await stopLeftoverProcesses(stateDir);
  // Before the port check (a killed launcher's postmaster holds our port), and only here: startPostgres relies on it.
  await stopLeftoverPostgres(tools.pgBin, stateDir);
  await assertPortsFree(ports);
  if (mode !== 'local') {
    // Tests start from nothing; only the launcher lock survives the wipe.
    for (const entry of await readdir(stateDir))
      if (entry !== 'launcher.pid') await rm(join(stateDir, entry), { recursive: true, force: true });
  }
  // The postgres user must traverse to its data dir inside ours. Only folders rotor made are
  // opened up: a custom ROTOR_STATE_DIR's parent (say /tmp) is never chmod-ed.
  await chmod(stateDir, 0o755);
  if (!process.env.ROTOR_STATE_DIR) await chmod(join(REPO_ROOT, '.rotor'), 0o755);

  // Every server's pid goes into stack.json the moment it starts, so a launcher killed anywhere
  // below leaves nothing a later one cannot stop (recorded-processes.ts).
  await writeFile(join(stateDir, 'stack.json'), JSON.stringify({ pids: {} }), { mode: 0o600 });
  const started: { name: string; stop(): Promise<void> }[] = [];
  const track = async (proc: ManagedProcess) => {
    started.push(proc);
    if (proc.child.pid !== undefined) await recordProcess(stateDir, proc.name, proc.child.pid);
  };
  const stopAll = async () => {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    started.length = 0;
  };
  try {
    const pgServer: PostgresServer = await step(`starting PostgreSQL on 127.0.0.1:${ports.postgres}`, () =>
      startPostgres(tools.pgBin, stateDir, ports),
    );
    started.push({ name: 'postgres', stop: () => pgServer.stop() });
    const mariadb = await step(`starting MariaDB on 127.0.0.1:${ports.mariadb}`, () =>
      startMariadb(tools.mariadb, stateDir, ports.mariadb),
    );
    await track(mariadb.proc);
    const redis = await step(`starting Redis on 127.0.0.1:${ports.redis}`, () => startRedis(tools.redisServer, stateDir, ports.redis));
    await track(redis.proc);
    const iam = await step(`starting the IAM-compatible endpoint (moto) on 127.0.0.1:${ports.iam}`, () =>
      startIam(tools.motoPython, stateDir, ports.iam),
    );
    await track(iam.proc);
    const vault = await step(`starting the Vault API server (${tools.vault}) on 127.0.0.1:${ports.vault}`, () =>
      startVault(tools.vault, stateDir, ports),
    );
    await track(vault.proc);
    const appRole = await step('bootstrapping Vault (KV v2, audit device, worker AppRole and policy)', () =>
      bootstrapVault(vault.address, vault.init.rootToken, stateDir, vault.isOpenBao, { file: inventoryFile, inventory }),
    );
    const identity = await step('bootstrapping identity (operator logins, groups, identity tokens)', () =>
      bootstrapIdentity(vault.address, vault.init.rootToken, stateDir, KV_MOUNT),
    );
    const pgBoot = await step('bootstrapping PostgreSQL (rotor database + migrations, demo target)', () =>
      bootstrapPostgres(pgServer, vault.address, vault.init.rootToken),
    );
    if (pgBoot.migrationsApplied.length) info(`migrations applied: ${pgBoot.migrationsApplied.join(', ')}`);
    await step('bootstrapping MariaDB (demo database, admin user in Vault)', () =>
      bootstrapMariadb(mariadb, vault.address, vault.init.rootToken),
    );
    await step('bootstrapping Redis (admin ACL user in Vault)', () => bootstrapRedis(redis, vault.address, vault.init.rootToken));
    const iamRoot = await step('bootstrapping the IAM endpoint (admin access key in Vault)', () =>
      bootstrapIam(iam, vault.address, vault.init.rootToken),
    );
    await step('bootstrapping the audit key and auditor logins (transit, database role rotor-auditor)', () =>
      bootstrapAudit(pgServer, vault.address, vault.init.rootToken),
    );
    const temporal: ManagedProcess = await step(
      `starting Temporal dev server on 127.0.0.1:${ports.temporal} (its own UI on :${ports.temporalUiServer}, behind the gateway)`,
      () => startTemporal(tools.temporal, stateDir, ports),
    );
    await track(temporal);

    const codecKeyFile = join(stateDir, 'codec.key');
    if (!existsSync(codecKeyFile)) await writeFile(codecKeyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
    const codecTokenFile = join(stateDir, 'codec.token');
    if (!existsSync(codecTokenFile)) await writeFile(codecTokenFile, randomBytes(24).toString('base64url'), { mode: 0o600 });
    const codecToken = (await readFile(codecTokenFile, 'utf8')).trim();
    const codecKey = (await readFile(codecKeyFile, 'utf8')).trim();
    // Operators decode rotor's payloads with their own Vault token (operator policy), not a file.
    await new VaultClient(vault.address, vault.init.rootToken).kvWrite(KV_MOUNT, CODEC_KEY_PATH, { key: codecKey });
    const codecServer = await startCodecServer({
      port: ports.codec,
      codecKey,
      token: codecToken,
      uiOrigin: `http://127.0.0.1:${ports.temporalUi}`,
      logger: createLogger('warn'),
    });
    started.push({ name: 'codec server', stop: () => codecServer.close() });
    const uiGateway = await step(`starting the Temporal Web UI gateway on 127.0.0.1:${ports.temporalUi} (codec at ${UI_CODEC_PATH})`, () =>
      startUiGateway({
        port: ports.temporalUi,
        upstream: { host: '127.0.0.1', port: ports.temporalUiServer },
        codecKey,
        token: codecToken,
        logger: createLogger('warn'),
      }),
    );
    started.push({ name: 'UI gateway', stop: () => uiGateway.close() });
    // Tests scrape every 2 s (the scrape timeout's minimum), so a counter shows up in Prometheus soon after its event.
    const prometheus = prometheusBin
      ? await step(`starting Prometheus on 127.0.0.1:${ports.prometheus} (rotor's alert rules loaded)`, () =>
          startPrometheus(prometheusBin, stateDir, ports.prometheus, mode === 'test' ? '1s' : '5s'),
        )
      : undefined;
    if (prometheus) await track(prometheus.proc);
    // npm start's worker serves its metrics here (test workers choose ports and add targets of their own).
    if (prometheus && mode === 'local') await addScrapeTarget(stateDir, 'worker', `127.0.0.1:${ports.workerMetrics}`);
    const env: Record<string, string> = {
      ROTOR_TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}`,
      ROTOR_TEMPORAL_NAMESPACE: 'default',
      ROTOR_TASK_QUEUE: mode === 'local' ? 'rotor' : `rotor-${mode}`,
      ROTOR_VAULT_ADDR: vault.address,
      ROTOR_VAULT_ROLE_ID: appRole.roleId,
      ROTOR_VAULT_SECRET_ID: appRole.secretId,
      ROTOR_VAULT_KV_MOUNT: KV_MOUNT,
      ROTOR_DATABASE_URL: pgBoot.databaseUrl,
      // Where operators' CLIs find the audit log (they log in with a read-only login from Vault).
      ROTOR_AUDIT_DATABASE: (({ hostname, port, pathname }) => `${hostname}:${port}${pathname}`)(new URL(pgBoot.databaseUrl)),
      ROTOR_CODEC_KEY: codecKey,
      ROTOR_IDENTITY_AUDIENCE: identity.audience,
      ROTOR_CODEC_PORT: String(ports.codec),
      ROTOR_INVENTORY: inventoryFile,
      // In-flight activities may finish this long after Ctrl-C (or a test's worker shutdown); a
      // rotation cut short resumes on the next worker anyway.
      // Below the launcher's 10 s before SIGKILL (managed-process.ts), so close() still runs.
      ROTOR_SHUTDOWN_GRACE: mode === 'local' ? '5s' : '1s',
      ...(mode === 'local' ? { ROTOR_METRICS_LISTEN: `127.0.0.1:${ports.workerMetrics}` } : {}),
    };
    const stack: Stack = {
      mode,
      stateDir,
      ports,
      env,
      vaultRootToken: vault.init.rootToken,
      codec: { url: codecServer.url, token: codecToken },
      postgres: { host: pgServer.host, port: pgServer.port, superuser: pgServer.superuser, superuserPassword: pgServer.superuserPassword },
      mariadb: {
        host: mariadb.host,
        port: mariadb.port,
        rootUser: mariadb.rootUser,
        rootPassword: mariadb.rootPassword,
        caFile: mariadb.caFile,
      },
      redis: { host: redis.host, port: redis.port, defaultPassword: redis.defaultPassword },
      iam: { endpoint: iam.endpoint, region: iam.region, root: iamRoot },
      ...(prometheus ? { prometheus: { url: prometheus.url, targetsDir: prometheus.targetsDir } } : {}),
      operators: identity.operators,
      stop: async () => {
        await stopAll();
        await rm(join(stateDir, 'launcher.pid'), { force: true });
      },
    };
    const file: StackFile = {
      ...stack,
      pids: {
        mariadb: mariadb.proc.child.pid!,
        redis: redis.proc.child.pid!,
        iam: iam.proc.child.pid!,
        vault: vault.proc.child.pid!,
        temporal: temporal.child.pid!,
        ...(prometheus ? { prometheus: prometheus.proc.child.pid! } : {}),
      },
    };
    delete (file as Partial<Stack>).stop;
    await writeFile(join(stateDir, 'stack.json'), JSON.stringify(file, null, 2), { mode: 0o600 });
    return stack;
  } catch (err) {
    await stopAll();
    await rm(join(stateDir, 'launcher.pid'), { force: true });
    throw err;
  }
}

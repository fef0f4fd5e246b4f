/**
 * Benchmark: revokeAll over N secrets on the local stack (bench mode, its own ports and state),
 * side by side with a baseline that makes the same Vault and PostgreSQL calls in a plain loop at
 * the same concurrency: it runs the very activity functions revokeAll and an emergency rotation
 * run (scope, freeze, each rotation's steps, the report), in the same order, without Temporal.
 * Run: `npm run bench -- [secrets] [concurrency]` (defaults 1000 and 16).
 * Prints wall time, per-secret p50/p99, peak RSS of the process that runs the worker, and the CPU
 * seconds each part of the stack spent (on a 2-core machine their sum is what bounds wall time).
 * ROTOR_BENCH_PROFILE=<file> writes a CPU profile of the worker's main thread during the rotor run.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import pg from 'pg';
import { Session } from 'node:inspector/promises';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivityContext } from '../activities/activity-context.js';
import { createActivities } from '../activities/index.js';
import { postgresProvider } from '../activities/providers/postgres/provider.js';
import type { PostgresAdmin } from '../activities/providers/postgres/schema.js';
import { ProviderCaches } from '../activities/providers/provider-caches.js';
import { VaultClient } from '../vault/vault-client.js';
import { VaultSession } from '../vault/vault-session.js';
import { loadEnvironment } from '../config/environment.js';
import { step } from '../stack/progress.js';
import { cpuDelta, cpuSnapshot, STACK_PARTS, type CpuSnapshot } from './cpu-usage.js';
import { up } from '../stack/up.js';
import { KV_MOUNT } from '../stack/bootstrap-vault.js';
import { createInventoryWorkerAppRole } from '../stack/worker-approle.js';
import type { IncidentReport, SecretReport } from '../workflows/incident-types.js';
import { createWorker, WORKFLOW_BUNDLER_OPTIONS, WORKFLOWS_PATH } from '../workers/create-worker.js';
import { dataConverter } from '../workers/data-converter.js';
import { createLogger } from '../workers/logger.js';
import { incidentWorkflowId } from '../workflows/contracts.js';
import { IDENTITY_ROLE } from '../vault/policies/operator-policy.js';
import { revokeAll } from '../workflows/revoke-all.js';

const N = Number(process.argv[2] ?? 1000);
const CONCURRENCY = Number(process.argv[3] ?? 16);
const ids = Array.from({ length: N }, (_, i) => `bench-${String(i).padStart(4, '0')}`);
/** Rotated by each side just before its measured run, so neither is measured with a cold JIT or cold caches. */
const warmIds = Array.from({ length: 3 * CONCURRENCY }, (_, i) => `warm-${String(i).padStart(4, '0')}`);
const users = (id: string) => [`${id.replace(/-/g, '_')}_a`, `${id.replace(/-/g, '_')}_b`] as [string, string];

async function pool<T>(items: T[], limit: number, run: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await run(items[next++]!);
    }),
  );
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Where one rotation's time went: queue wait (scheduled → started) and run time per activity. */
async function printTimeline(client: Client, workflowId: string): Promise<void> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const ms = (t: unknown) =>
    Number((t as { seconds: { toNumber(): number } }).seconds.toNumber()) * 1000 + Math.floor(Number((t as { nanos: number }).nanos) / 1e6);
  const events = history.events ?? [];
  const byId = new Map(events.map((e) => [Number(e.eventId), e]));
  const first = ms(events[0]!.eventTime);
  console.log(`\ntimeline of ${workflowId} (ms from start: scheduled, +queue wait, +run)`);
  for (const e of events) {
    const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes;
    if (!done) continue;
    const scheduled = byId.get(Number(done.scheduledEventId));
    const started = byId.get(Number(done.startedEventId));
    const name = scheduled?.activityTaskScheduledEventAttributes?.activityType?.name ?? '?';
    console.log(
      `  ${name.padEnd(22)} ${String(ms(scheduled!.eventTime) - first).padStart(6)}  +${ms(started!.eventTime) - ms(scheduled!.eventTime)}  +${ms(e.eventTime) - ms(started!.eventTime)}`,
    );
  }
  console.log(`  total ${ms(events.at(-1)!.eventTime) - first} ms, ${events.length} events`);
}

/** The parent's time before the first child, among the children, and after the last one. */
async function printPhases(client: Client, workflowId: string): Promise<void> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const ms = (t: unknown) =>
    Number((t as { seconds: { toNumber(): number } }).seconds.toNumber()) * 1000 + Math.floor(Number((t as { nanos: number }).nanos) / 1e6);
  const firstChild = events.find((e) => e.startChildWorkflowExecutionInitiatedEventAttributes);
  const lastChild = [...events]
    .reverse()
    .find((e) => e.childWorkflowExecutionCompletedEventAttributes ?? e.childWorkflowExecutionFailedEventAttributes);
  if (!firstChild || !lastChild) return;
  const [start, first, last, end] = [events[0], firstChild, lastChild, events.at(-1)].map((e) => ms(e!.eventTime));
  console.log(
    `revokeAll: ${events.length} events for ${N} child workflows; scope + freeze ${first! - start!} ms, children ${last! - first!} ms, report ${end! - last!} ms`,
  );
}

/** CPU seconds per part of the stack: on a 2-core machine, the sum is what bounds wall time. */
function printCpu(rotor: CpuSnapshot, base: CpuSnapshot, row: (label: string, rotor: string, base: string) => void): void {
  let rotorTotal = 0;
  let baseTotal = 0;
  for (const part of Object.keys(rotor)) {
    rotorTotal += rotor[part] ?? 0;
    baseTotal += base[part] ?? 0;
    row(`CPU s, ${part}`, (rotor[part] ?? 0).toFixed(1), (base[part] ?? 0).toFixed(1));
  }
  row('CPU s, all of the above', rotorTotal.toFixed(1), baseTotal.toFixed(1));
}

/** The incident responder the bench acts as (stack/bootstrap-identity.ts: alice is one). */
const RESPONDER = 'alice';

/**
 * A fresh Vault identity token proving RESPONDER, minted with their own login as `rotor login` and
 * the CLI do: revokeAll accepts only a verified incident responder, and each token once.
 */
async function responderIdentity(vaultAddr: string, operators: Record<string, string>): Promise<string> {
  const password = operators[RESPONDER];
  if (!password) throw new Error(`the bench stack has no operator ${RESPONDER} (stack/bootstrap-identity.ts)`);
  const anonymous = new VaultClient(vaultAddr);
  const login = await anonymous.request<{ auth: { client_token: string } }>('POST', `auth/userpass/login/${RESPONDER}`, { password });
  const asResponder = new VaultClient(vaultAddr, login.auth.client_token);
  return (await asResponder.request<{ data: { token: string } }>('GET', `identity/oidc/token/${IDENTITY_ROLE}`)).data.token;
}

async function main(): Promise<void> {
  const stack = await up('bench');
  try {
    const inventoryFile = join(stack.stateDir, 'inventory.yaml');
    const adminPath = '_rotor/admin/demo-postgres';
    await writeFile(
      inventoryFile,
      `secrets:\n${[...ids, ...warmIds]
        .map(
          (id) =>
            `  - { id: ${id}, path: bench/${id}, owner: bench, tags: [${id.startsWith('warm') ? 'warmup' : 'bench'}], overlap: 0s, provider: { type: postgres, adminPath: ${adminPath}, users: [${users(id).join(', ')}], database: demo } }`,
        )
        .join('\n')}\n`,
    );
    // The bench worker's own AppRole: the stack's holds the policy of the stack's inventory only.
    const root = new VaultClient(stack.env.ROTOR_VAULT_ADDR!, stack.vaultRootToken);
    const appRole = await createInventoryWorkerAppRole(root, 'rotor-worker-bench-revoke-all', inventoryFile, KV_MOUNT);
    const env = loadEnvironment({
      ...stack.env,
      ROTOR_INVENTORY: inventoryFile,
      ROTOR_VAULT_ROLE_ID: appRole.roleId,
      ROTOR_VAULT_SECRET_ID: appRole.secretId,
      ROTOR_LOG_LEVEL: 'warn',
    });
    const vault = new VaultSession(env.ROTOR_VAULT_ADDR, env.ROTOR_VAULT_ROLE_ID, env.ROTOR_VAULT_SECRET_ID);
    // As the worker does: each secret's requests with a token holding only that secret's policy.
    const admin = (await vault.forSecret(ids[0]!).run((v) => v.kvRead<PostgresAdmin>('rotor', adminPath)))!.data;

    const seedCaches = new ProviderCaches();
    await step(`seeding ${N} + ${warmIds.length} warm-up secrets (Vault first, then PostgreSQL)`, () =>
      pool([...ids, ...warmIds], 16, async (id) => {
        const { source } = postgresProvider(
          { type: 'postgres', adminPath, users: users(id), database: 'demo' },
          { admin, database: 'demo' },
          seedCaches,
        );
        const first = await source.generate(undefined);
        await vault.forSecret(id).run((v) => v.kvWrite('rotor', `bench/${id}`, { ...first }, 0));
        await source.apply(first);
      }),
    );

    // --- rotor: the revokeAll workflow, worker in this process ---
    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
    const bundle = await step('bundling workflow code', () =>
      bundleWorkflowCode({
        workflowsPath: WORKFLOWS_PATH,
        ...WORKFLOW_BUNDLER_OPTIONS,
        logger: new DefaultLogger('WARN'),
      }),
    );
    const worker = await createWorker(env, createLogger('warn'), {
      workflowBundle: { code: bundle.code },
      maxConcurrentActivityTaskExecutions: 100,
    });
    const running = worker.worker.run();
    const connection = await Connection.connect({ address: env.ROTOR_TEMPORAL_ADDRESS });
    const client = new Client({ connection, dataConverter: dataConverter(env.ROTOR_CODEC_KEY) });
    const incidentWorkflowIds: Record<string, string> = {};
    const runRevokeAll = async (tag: string, incidentId = `bench-${tag}-${Date.now()}`) =>
      client.workflow.execute(revokeAll, {
        taskQueue: env.ROTOR_TASK_QUEUE,
        workflowId: (incidentWorkflowIds[tag] = incidentWorkflowId(incidentId)),
        args: [
          {
            incidentId,
            reason: 'benchmark run',
            identity: await responderIdentity(env.ROTOR_VAULT_ADDR, stack.operators),
            scope: { tags: [tag] },
            concurrency: CONCURRENCY,
            freeze: 'in-scope' as const,
          },
        ],
      }) as Promise<IncidentReport>;
    await step(`warm-up: rotor revokeAll over ${warmIds.length} other secrets`, () => runRevokeAll('warmup'));
    const profiler = process.env.ROTOR_BENCH_PROFILE ? new Session() : undefined;
    if (profiler) {
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    }
    const rotorCpuBefore = await cpuSnapshot(STACK_PARTS);
    const rotorStart = Date.now();
    const report = await step(`rotor revokeAll over ${N} secrets, concurrency ${CONCURRENCY}`, () => runRevokeAll('bench'));
    const rotorWall = Date.now() - rotorStart;
    const rotorCpu = cpuDelta(rotorCpuBefore, await cpuSnapshot(STACK_PARTS));
    clearInterval(sampler);
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      await writeFile(process.env.ROTOR_BENCH_PROFILE!, JSON.stringify(profile));
      profiler.disconnect();
    }
    const rotorDurations = report.secrets.map((s) => s.durationMs ?? 0);
    await printTimeline(client, `rotate/${ids[Math.floor(N / 2)]}`);
    await printPhases(client, incidentWorkflowIds.bench!);
    const rotorFailed = report.summary.failed;
    worker.worker.shutdown();
    await running;
    await worker.close();
    // --- baseline: the same activity functions (so the same Vault and PostgreSQL calls) per
    // secret, in the order an emergency rotation runs them, in a plain loop: no Temporal.
    const baselineDb = new pg.Pool({ connectionString: env.ROTOR_DATABASE_URL, max: 10 });
    const activities = createActivities(createActivityContext(env, { db: baselineDb, logger: createLogger('warn'), temporal: client }));
    const baseDurations: number[] = [];
    let baseFailed = 0;
    // Each call in its own activity context, as the worker runs it (audit keys use the activity id).
    const inActivity = <A extends unknown[], R>(
      workflowId: string,
      runId: string,
      activityId: number,
      fn: (...args: A) => Promise<R>,
      ...args: A
    ) =>
      new MockActivityEnvironment({ activityId: String(activityId), workflowExecution: { workflowId, runId } }).run(
        fn,
        ...args,
      ) as Promise<R>;
    const rotateDirectly = async (secretId: string): Promise<SecretReport> => {
      const started = Date.now();
      const ref = { secretId, rotationId: randomUUID(), actor: 'bench baseline' };
      let activityId = 0;
      const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A) =>
        inActivity(`baseline/${secretId}`, ref.rotationId, ++activityId, fn, ...args);
      try {
        const finishEventId = randomUUID();
        const { spec, fromVersion } = await run(activities.emergencyPrepare, { ...ref, reason: 'benchmark run', eventId: randomUUID() });
        const retire = spec.consumers.length === 0 ? { finishEventId } : undefined;
        const promoted = await run(activities.emergencyPromote, { ...ref, fromVersion, retire });
        if (!promoted.retired)
          await run(activities.emergencyRetire, { ...ref, version: fromVersion, validateVersion: promoted.promotedVersion, finishEventId });
        return { secretId, status: 'done', fromVersion, toVersion: promoted.promotedVersion, durationMs: Date.now() - started };
      } catch (err) {
        return { secretId, status: 'failed', reason: (err as Error).message, durationMs: Date.now() - started };
      }
    };
    /** The incident around the loop makes revokeAll's own calls too: scope, freeze, and the report in the audit log. */
    const incidentDirectly = async (tag: string, secretIds: string[]) => {
      const incidentId = `bench-baseline-${tag}-${Date.now()}`;
      const call = <A extends unknown[], R>(activityId: number, fn: (...args: A) => Promise<R>, ...args: A) =>
        inActivity(`incident/${incidentId}`, incidentId, activityId, fn, ...args);
      const startedAt = new Date().toISOString();
      // The same identity check revokeAll makes before it changes anything.
      const identity = await responderIdentity(env.ROTOR_VAULT_ADDR, stack.operators);
      const who = await call(1, activities.verifyIdentity, { assertion: identity, purpose: `start incident response ${incidentId}` });
      const plan = await call(2, activities.resolveIncidentScope, { tags: [tag], secretIds: [], leasePrefixes: [] });
      await call(3, activities.startFreeze, { incidentId, reason: 'benchmark run', actor: who.name, secretIds: plan.secrets });
      const secrets: SecretReport[] = [];
      await pool(secretIds, CONCURRENCY, async (secretId) => void secrets.push(await rotateDirectly(secretId)));
      const failed = secrets.filter((r) => r.status === 'failed').length;
      const summary = { done: secrets.length - failed, failed, planned: 0 };
      const report: IncidentReport = {
        incidentId,
        reason: 'benchmark run',
        requestedBy: who.name,
        dryRun: false,
        startedAt,
        finishedAt: new Date().toISOString(),
        frozen: true,
        secrets,
        leases: [],
        grants: [],
        summary,
      };
      await call(4, activities.recordIncidentReport, report);
      return secrets;
    };
    await step(`warm-up: baseline loop over ${warmIds.length} other secrets`, () => incidentDirectly('warmup', warmIds));
    const baseCpuBefore = await cpuSnapshot(STACK_PARTS);
    const baseStart = Date.now();
    const baseReports = await step(`baseline loop over ${N} secrets, concurrency ${CONCURRENCY}`, () => incidentDirectly('bench', ids));
    for (const r of baseReports) {
      baseDurations.push(r.durationMs ?? 0);
      if (r.status === 'failed') baseFailed++;
    }
    const baseWall = Date.now() - baseStart;
    const baseCpu = cpuDelta(baseCpuBefore, await cpuSnapshot(STACK_PARTS));
    await baselineDb.end();
    await connection.close();

    const row = (label: string, rotor: string, base: string) =>
      console.log(`${label.padEnd(36)} ${rotor.padStart(14)} ${base.padStart(14)}`);
    console.log(
      `\nrevoke-all over ${N} secrets, concurrency ${CONCURRENCY}, ${process.env.HOSTNAME ?? ''} (${(await import('node:os')).cpus().length} cores)`,
    );
    row('', 'rotor', 'baseline loop');
    row('wall time (s)', (rotorWall / 1000).toFixed(1), (baseWall / 1000).toFixed(1));
    row('per-secret p50 (ms)', String(percentile(rotorDurations, 50)), String(percentile(baseDurations, 50)));
    row('per-secret p99 (ms)', String(percentile(rotorDurations, 99)), String(percentile(baseDurations, 99)));
    row('failed', String(rotorFailed), String(baseFailed));
    row('peak RSS, worker proc (MB)', (peakRss / 2 ** 20).toFixed(0), '-');
    printCpu(rotorCpu, baseCpu, row);
    row('rotor / baseline wall', (rotorWall / baseWall).toFixed(2), '1.00');
    console.log(
      `target: ≤ 60 s and ≤ 2× the baseline → ${rotorWall <= 60_000 ? 'met' : 'NOT met'} / ${rotorWall <= 2 * baseWall ? 'met' : 'NOT met'}`,
    );
  } finally {
    await stack.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

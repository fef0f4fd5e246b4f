/**
 * Benchmark: revokeAll over N secrets on the local stack (bench mode, its own ports and state),
 * side by side with a baseline that makes the same Vault and PostgreSQL calls in a plain loop at
 * the same concurrency. Run: `npm run bench -- [secrets] [concurrency]` (defaults 1000 and 16).
 * Prints wall time, per-secret p50/p99 and peak RSS of the process that runs the worker.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import pg from 'pg';
import { appendAudit } from '../activities/audit/append-audit.js';
import { postgresProviderFor, type PostgresAdmin } from '../activities/providers/postgres-provider.js';
import type { Credential } from '../activities/providers/provider.js';
import { VaultSession } from '../activities/vault/vault-session.js';
import { loadEnvironment } from '../config/environment.js';
import { step } from '../stack/progress.js';
import { up } from '../stack/up.js';
import type { IncidentReport } from '../workflows/incident-types.js';
import { createWorker, WORKFLOWS_PATH } from '../workers/create-worker.js';
import { dataConverter } from '../workers/data-converter.js';
import { createLogger } from '../workers/logger.js';

const N = Number(process.argv[2] ?? 1000);
const CONCURRENCY = Number(process.argv[3] ?? 16);
const ids = Array.from({ length: N }, (_, i) => `bench-${String(i).padStart(4, '0')}`);
const users = (id: string) => [`${id.replace(/-/g, '_')}_a`, `${id.replace(/-/g, '_')}_b`] as [string, string];

async function pool<T>(items: T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
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

async function main(): Promise<void> {
  const stack = await up('bench');
  try {
    const inventoryFile = join(stack.stateDir, 'inventory.yaml');
    const adminPath = '_rotor/admin/demo-postgres';
    await writeFile(
      inventoryFile,
      `secrets:\n${ids
        .map(
          (id) =>
            `  - { id: ${id}, path: bench/${id}, owner: bench, tags: [bench], overlap: 0s, provider: { type: postgres, adminPath: ${adminPath}, users: [${users(id).join(', ')}], database: demo } }`,
        )
        .join('\n')}\n`,
    );
    const env = loadEnvironment({ ...stack.env, ROTOR_INVENTORY: inventoryFile, ROTOR_LOG_LEVEL: 'warn' });
    const vault = new VaultSession(env.ROTOR_VAULT_ADDR, env.ROTOR_VAULT_ROLE_ID, env.ROTOR_VAULT_SECRET_ID);
    const admin = (await vault.run((v) => v.kvRead<PostgresAdmin>('rotor', adminPath)))!.data;
    const db = new pg.Pool({ connectionString: env.ROTOR_DATABASE_URL, max: CONCURRENCY });

    await step(`seeding ${N} secrets (Vault first, then PostgreSQL)`, () =>
      pool(ids, 16, async (id) => {
        const provider = postgresProviderFor({ type: 'postgres', adminPath, users: users(id), database: 'demo' }, admin);
        const first = await provider.generate(undefined);
        await vault.run((v) => v.kvWrite('rotor', `bench/${id}`, { ...first }, 0));
        await provider.apply(first);
      }),
    );

    // --- rotor: the revokeAll workflow, worker in this process ---
    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
    const bundle = await step('bundling workflow code', () =>
      bundleWorkflowCode({
        workflowsPath: WORKFLOWS_PATH,
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
    const rotorStart = Date.now();
    const report = await step(
      `rotor revokeAll over ${N} secrets, concurrency ${CONCURRENCY}`,
      () =>
        client.workflow.execute('revokeAll', {
          taskQueue: env.ROTOR_TASK_QUEUE,
          workflowId: `incident/bench-${Date.now()}`,
          args: [
            {
              incidentId: `bench-${Date.now()}`,
              reason: 'benchmark run',
              requestedBy: 'bench',
              scope: { tags: ['bench'] },
              concurrency: CONCURRENCY,
              freeze: 'in-scope',
            },
          ],
        }) as Promise<IncidentReport>,
    );
    const rotorWall = Date.now() - rotorStart;
    clearInterval(sampler);
    const rotorDurations = report.secrets.map((s) => s.durationMs ?? 0);
    await printTimeline(client, `rotate/${ids[Math.floor(N / 2)]}`);
    const rotorFailed = report.summary.failed;
    worker.worker.shutdown();
    await running;
    await worker.close();
    await connection.close();
    // The freeze is scoped to the bench secrets; lift it so the baseline runs the same calls unhindered.
    await db.query("UPDATE incident_freeze SET lifted_at = now(), lifted_by = 'bench' WHERE lifted_at IS NULL");

    // --- baseline: the same Vault + PostgreSQL calls per secret, in a plain loop ---
    const baseDurations: number[] = [];
    let baseFailed = 0;
    const baseStart = Date.now();
    await step(`baseline loop over ${N} secrets, concurrency ${CONCURRENCY}`, () =>
      pool(ids, CONCURRENCY, async (id) => {
        const started = Date.now();
        try {
          const provider = postgresProviderFor({ type: 'postgres', adminPath, users: users(id), database: 'demo' }, admin);
          const path = `bench/${id}`;
          const pending = `_rotor/pending/${id}/baseline`;
          const meta = await vault.run((v) => v.kvMetadata('rotor', path));
          const current = (await vault.run((v) => v.kvRead<Credential>('rotor', path)))!;
          await provider.test(current.data).catch(() => undefined);
          const next = await provider.generate(current.data);
          await vault.run((v) => v.kvWrite('rotor', pending, { ...next }, 0));
          await provider.apply(next);
          await provider.test(next);
          await vault.run((v) => v.kvWrite('rotor', path, { ...next }, meta!.current_version));
          await vault.run((v) => v.kvWriteMetadata('rotor', path, { custom_metadata: { rotor_rotation_id: 'baseline' } }));
          await provider.revoke(current.data, { terminateSessions: true });
          if (!(await provider.isRevoked(current.data))) throw new Error('not revoked');
          await vault.run((v) => v.kvDeleteAll('rotor', pending));
          for (const stepName of ['precheck', 'stage', 'apply', 'test', 'promote', 'revoke', 'cleanup']) {
            await appendAudit(db, {
              eventKey: `baseline/${id}/${stepName}/${randomBytes(4).toString('hex')}`,
              actor: 'bench',
              secretId: id,
              step: stepName,
              outcome: 'succeeded',
            });
          }
        } catch {
          baseFailed++;
        }
        baseDurations.push(Date.now() - started);
      }),
    );
    const baseWall = Date.now() - baseStart;
    await db.end();

    const row = (label: string, rotor: string, base: string) =>
      console.log(`${label.padEnd(26)} ${rotor.padStart(14)} ${base.padStart(14)}`);
    console.log(
      `\nrevoke-all over ${N} secrets, concurrency ${CONCURRENCY}, ${process.env.HOSTNAME ?? ''} (${(await import('node:os')).cpus().length} cores)`,
    );
    row('', 'rotor', 'baseline loop');
    row('wall time (s)', (rotorWall / 1000).toFixed(1), (baseWall / 1000).toFixed(1));
    row('per-secret p50 (ms)', String(percentile(rotorDurations, 50)), String(percentile(baseDurations, 50)));
    row('per-secret p99 (ms)', String(percentile(rotorDurations, 99)), String(percentile(baseDurations, 99)));
    row('failed', String(rotorFailed), String(baseFailed));
    row('peak RSS, worker proc (MB)', (peakRss / 2 ** 20).toFixed(0), '-');
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

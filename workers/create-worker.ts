import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type BundleOptions, type WorkerOptions } from '@temporalio/worker';
import pg from 'pg';
import type { Logger } from 'pino';
import { createActivities } from '../activities/index.js';
import { createActivityContext, type ActivityContext } from '../activities/activity-context.js';
import type { Environment } from '../config/environment.js';
import { parseDuration } from '../config/duration.js';
import { temporalConnectionOptions } from '../config/temporal-connection.js';
import { startAuditAnchoring } from './audit-anchoring.js';
import { startNotifications } from '../notifications/dispatcher.js';
import { dataConverter } from './data-converter.js';
import { installRuntimeLogger, runtimeMetricsAddress } from './logger.js';
import { startMetricsServer } from '../metrics/metrics-server.js';
import { freeLoopbackAddress } from '../metrics/sdk-metrics.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/**
 * zod is evaluated once per worker thread and shared (frozen) by every workflow, instead of once
 * per workflow: its module scope was a quarter of the cost of starting a rotation
 * (bench/revoke-all.ts). It holds no per-workflow state. Our schemas cannot be shared: zod defines
 * members on them lazily, which a frozen object refuses.
 */
export const WORKFLOW_BUNDLER_OPTIONS: Pick<BundleOptions, 'preloadModules'> = {
  preloadModules: [fileURLToPath(new URL('../workflows/zod-preload.ts', import.meta.url))],
};

/**
 * Limits on every session of rotor's own database (audit log, incident freeze), sent as startup
 * parameters. Every audit append of every worker takes one global lock (AUDIT_ADVISORY_LOCK,
 * activities/audit/append-audit.ts) for milliseconds; without limits one hung transaction holding
 * it stalls every audited step everywhere.
 * - `lock_timeout` 5 s (covers `pg_advisory_xact_lock` waits): a longer wait means a session is
 *   stuck holding the lock; the append fails and its activity is retried with backoff.
 * - `statement_timeout` 20 s: under the 30 s start-to-close of the quickest activities, so a stuck
 *   statement is a reported, retryable failure rather than an activity timeout.
 * - `idle_in_transaction_session_timeout` 10 s: rotor's transactions do no work between statements,
 *   so a session idle inside one belongs to a stalled worker (paused, cut off); ending it frees the
 *   audit lock for everyone else.
 */
export const ROTOR_DATABASE_SESSION_LIMITS = {
  lock_timeout: 5_000,
  statement_timeout: 20_000,
  idle_in_transaction_session_timeout: 10_000,
} as const;

/** The worker's pool on rotor's own database, with the session limits above. */
export function rotorDatabasePool(connectionString: string, logger: Logger, max = 10): pg.Pool {
  const db = new pg.Pool({ connectionString, max, ...ROTOR_DATABASE_SESSION_LIMITS });
  // A pool error (server restart) must not crash the worker; the next query reconnects.
  db.on('error', (err) => logger.warn({ err: err.message }, 'rotor database pool error'));
  // Nor may a connection lost while checked out (pg emits 'error' on the client then; its query fails anyway).
  db.on('connect', (client) => client.on('error', () => undefined));
  return db;
}

export interface RotorWorker {
  worker: Worker;
  /** The worker's client connection to Temporal (health checks). */
  temporal: Connection;
  /** What its activities use (inventory, Vault session, rotor's database, client): services beside them share it. */
  ctx: ActivityContext;
  /** Shuts the worker down (if running) and closes its connections. */
  close(): Promise<void>;
}

export async function createWorker(
  env: Environment,
  logger: Logger,
  overrides: Partial<Pick<WorkerOptions, 'workflowBundle' | 'taskQueue' | 'maxConcurrentActivityTaskExecutions'>> = {},
): Promise<RotorWorker> {
  // The SDK exports on a private loopback port; rotor's metrics server (below) serves its text on ROTOR_METRICS_LISTEN.
  installRuntimeLogger(logger, env.ROTOR_METRICS_LISTEN ? await freeLoopbackAddress() : undefined);
  const temporalOptions = temporalConnectionOptions(env);
  const connection = await NativeConnection.connect(temporalOptions);
  const db = rotorDatabasePool(env.ROTOR_DATABASE_URL, logger);
  const clientConnection = await Connection.connect(temporalOptions);
  const temporal = new Client({
    connection: clientConnection,
    namespace: env.ROTOR_TEMPORAL_NAMESPACE,
    dataConverter: dataConverter(env.ROTOR_CODEC_KEY),
  });
  const ctx = createActivityContext(env, { db, logger, temporal });
  const activities = createActivities(ctx);
  const worker = await Worker.create({
    connection,
    namespace: env.ROTOR_TEMPORAL_NAMESPACE,
    taskQueue: overrides.taskQueue ?? env.ROTOR_TASK_QUEUE,
    ...(overrides.workflowBundle
      ? { workflowBundle: overrides.workflowBundle }
      : { workflowsPath: WORKFLOWS_PATH, bundlerOptions: WORKFLOW_BUNDLER_OPTIONS }),
    activities,
    dataConverter: dataConverter(env.ROTOR_CODEC_KEY),
    maxConcurrentActivityTaskExecutions: overrides.maxConcurrentActivityTaskExecutions ?? 50,
    // After SIGTERM: stop polling, let in-flight activities finish this long, then cancel them.
    shutdownGraceTime: parseDuration(env.ROTOR_SHUTDOWN_GRACE)!,
  });
  // The worker's lifetime is the anchoring's: it holds the pool and Vault session that close() ends.
  const anchoring = startAuditAnchoring({
    db,
    vault: ctx.vault,
    kvMount: env.ROTOR_VAULT_KV_MOUNT,
    databaseUrl: env.ROTOR_DATABASE_URL,
    logger,
  });
  // Notifications (notifications/) live as long as the worker too; awaiting the first tick means
  // every audit row from here on is seen (a deployment's first dispatcher starts at the log's head).
  const notifications = startNotifications({
    db,
    vault: ctx.vault,
    inventory: ctx.inventory,
    temporal,
    logger,
    kvMount: env.ROTOR_VAULT_KV_MOUNT,
    scope: overrides.taskQueue ?? env.ROTOR_TASK_QUEUE,
    namespace: env.ROTOR_TEMPORAL_NAMESPACE,
  });
  await notifications.ready;
  const metrics = env.ROTOR_METRICS_LISTEN ? await startMetricsServer(env.ROTOR_METRICS_LISTEN, ctx, runtimeMetricsAddress()) : undefined;
  return {
    worker,
    temporal: clientConnection,
    ctx,
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await metrics?.close();
      await notifications.stop();
      await anchoring.stop();
      await db.end().catch(() => undefined);
      await ctx.providerCaches.close();
      await connection.close().catch(() => undefined);
      await clientConnection.close().catch(() => undefined);
    },
  };
}

import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type BundleOptions, type WorkerOptions } from '@temporalio/worker';
import pg from 'pg';
import type { Logger } from 'pino';
import { createActivities } from '../activities/index.js';
import { createActivityContext } from '../activities/activity-context.js';
import type { Environment } from '../config/environment.js';
import { dataConverter } from './data-converter.js';
import { installRuntimeLogger } from './logger.js';

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

export interface RotorWorker {
  worker: Worker;
  /** Shuts the worker down (if running) and closes its connections. */
  close(): Promise<void>;
}

export async function createWorker(
  env: Environment,
  logger: Logger,
  overrides: Partial<Pick<WorkerOptions, 'workflowBundle' | 'taskQueue' | 'maxConcurrentActivityTaskExecutions'>> = {},
): Promise<RotorWorker> {
  installRuntimeLogger(logger);
  const connection = await NativeConnection.connect({ address: env.ROTOR_TEMPORAL_ADDRESS });
  const db = new pg.Pool({ connectionString: env.ROTOR_DATABASE_URL, max: 10 });
  // A pool error (server restart) must not crash the worker; the next query reconnects.
  db.on('error', (err) => logger.warn({ err: err.message }, 'rotor database pool error'));
  const clientConnection = await Connection.connect({ address: env.ROTOR_TEMPORAL_ADDRESS });
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
  });
  return {
    worker,
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await db.end().catch(() => undefined);
      await ctx.providerCaches.close();
      await connection.close().catch(() => undefined);
      await clientConnection.close().catch(() => undefined);
    },
  };
}

import { Client, Connection } from '@temporalio/client';
import type { Logger } from 'pino';
import { loadEnvironment, EnvironmentError, type Environment } from '../config/environment.js';
import { temporalConnectionOptions } from '../config/temporal-connection.js';
import { loadInventory } from '../config/load-inventory.js';
import { reconcileSchedules } from '../schedules/reconcile-schedules.js';
import { dataConverter } from './data-converter.js';
import { createWorker } from './create-worker.js';
import { createLogger } from './logger.js';
import { startHealthServer } from './health-server.js';

/** Schedules follow the inventory; a failure here is logged, not fatal: rotations still run. */
async function reconcileOnStart(env: Environment, logger: Logger): Promise<void> {
  const connection = await Connection.connect(temporalConnectionOptions(env));
  try {
    const client = new Client({ connection, namespace: env.ROTOR_TEMPORAL_NAMESPACE, dataConverter: dataConverter(env.ROTOR_CODEC_KEY) });
    const changes = await reconcileSchedules(client, await loadInventory(env.ROTOR_INVENTORY), env.ROTOR_TASK_QUEUE);
    for (const c of changes.filter((c) => c.action !== 'unchanged')) logger.info({ ...c }, 'schedule reconciled');
  } catch (err) {
    logger.error({ error: (err as Error).message }, 'schedule reconcile failed; run `rotor schedules sync` after fixing it');
  } finally {
    await connection.close();
  }
}

/** Worker entry point: `npm run worker` (env from ROTOR_* variables, see config/environment.ts). */
async function main(): Promise<void> {
  // Handled from the first instant, before the Temporal runtime installs its own: as PID 1 in a
  // container a signal without a handler is dropped, and one during start-up must not be lost.
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void (stopping = true));
  const env = loadEnvironment();
  const logger = createLogger(env.ROTOR_LOG_LEVEL);
  const { worker, temporal, close } = await createWorker(env, logger);
  if (stopping) {
    logger.info('stopped while starting: exiting before polling');
    return close();
  }
  const health = env.ROTOR_HEALTH_LISTEN
    ? await startHealthServer(env.ROTOR_HEALTH_LISTEN, {
        worker,
        stopping: () => stopping,
        temporal,
        vaultAddress: env.ROTOR_VAULT_ADDR,
        logger,
      })
    : undefined;
  if (health) logger.info({ url: health.url }, 'health endpoints: /livez, /readyz');
  if (env.ROTOR_RECONCILE_SCHEDULES === 'true' && !stopping) await reconcileOnStart(env, logger);
  logger.info(
    { taskQueue: env.ROTOR_TASK_QUEUE, temporal: env.ROTOR_TEMPORAL_ADDRESS, temporalTls: env.ROTOR_TEMPORAL_TLS === 'true' },
    'rotor worker started',
  );
  try {
    await worker.run(); // returns after SIGINT/SIGTERM once in-flight tasks are done
  } finally {
    await health?.close();
    await close();
  }
}

main().catch((err: unknown) => {
  if (err instanceof EnvironmentError) {
    process.stderr.write(`${err.message}\n`);
  } else {
    process.stderr.write(`rotor worker failed: ${(err as Error).message}\n`);
  }
  process.exit(1);
});

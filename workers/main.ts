import { loadEnvironment, EnvironmentError } from '../config/environment.js';
import { createWorker } from './create-worker.js';
import { createLogger } from './logger.js';

/** Worker entry point: `npm run worker` (env from ROTOR_* variables, see config/environment.ts). */
async function main(): Promise<void> {
  const env = loadEnvironment();
  const logger = createLogger(env.ROTOR_LOG_LEVEL);
  const { worker, close } = await createWorker(env, logger);
  logger.info({ taskQueue: env.ROTOR_TASK_QUEUE, temporal: env.ROTOR_TEMPORAL_ADDRESS }, 'rotor worker started');
  try {
    await worker.run(); // returns after SIGINT/SIGTERM once in-flight tasks are done
  } finally {
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

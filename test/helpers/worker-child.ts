// A rotor worker in a process of its own, for tests that kill it for real (test/helpers/worker-process.ts).
import { loadEnvironment } from '../../config/environment.js';
import { createWorker } from '../../workers/create-worker.js';
import { createLogger } from '../../workers/logger.js';

const env = loadEnvironment();
const logger = createLogger(env.ROTOR_LOG_LEVEL);
const bundle = process.env.ROTOR_TEST_WORKFLOW_BUNDLE;
const { worker, close } = await createWorker(env, logger, bundle ? { workflowBundle: { codePath: bundle } } : {});
const running = worker.run();
process.stderr.write('rotor-test-worker-ready\n');
try {
  await running;
} finally {
  await close();
}

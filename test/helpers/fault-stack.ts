import { join } from 'node:path';
import type { StackMode } from '../../stack/ports.js';
import { connectTestStack, type StackConnection } from './test-stack.js';
import { Failpoints } from './failpoints.js';
import { spawnWorker, type WorkerProcess } from './worker-process.js';

/** A test stack whose worker is a child process, to be crashed for real and started again. */
export interface FaultStack extends StackConnection {
  failpoints: Failpoints;
  /** The worker running now (replaced by `startWorker`). */
  worker: WorkerProcess;
  workerLog: string;
  startWorker(): Promise<WorkerProcess>;
  close(): Promise<void>;
}

export async function startFaultStack(name: string, inventoryYaml?: string, mode: StackMode = 'test'): Promise<FaultStack> {
  const conn = await connectTestStack(name, inventoryYaml, mode);
  const failpoints = new Failpoints(join(conn.file.stateDir, `failpoints-${conn.taskQueue}`));
  await failpoints.init();
  const workerLog = join(conn.file.stateDir, `worker-${conn.taskQueue}.log`);
  const workerEnv: Record<string, string> = {
    ...(conn.file.env as Record<string, string>),
    ROTOR_TASK_QUEUE: conn.taskQueue,
    ROTOR_INVENTORY: conn.inventoryFile,
    // This file's worker AppRole, whose policy is rendered from its inventory (test-stack.ts).
    ROTOR_VAULT_ROLE_ID: conn.env.ROTOR_VAULT_ROLE_ID,
    ROTOR_VAULT_SECRET_ID: conn.env.ROTOR_VAULT_SECRET_ID,
    ROTOR_FAILPOINTS_DIR: failpoints.dir,
    ROTOR_LOG_LEVEL: 'debug',
  };
  const spawn = () => spawnWorker(workerEnv, conn.workflowBundle, workerLog);
  const stack: FaultStack = {
    ...conn,
    failpoints,
    workerLog,
    worker: spawn(),
    async startWorker() {
      stack.worker = spawn();
      await stack.worker.ready;
      return stack.worker;
    },
    async close() {
      await stack.worker?.stop();
      await conn.connection.close();
    },
  };
  await stack.worker.ready;
  return stack;
}

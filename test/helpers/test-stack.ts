import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import type pino from 'pino';
import { loadEnvironment, type Environment } from '../../config/environment.js';
import { InventoryError, parseInventory } from '../../config/load-inventory.js';
import { temporalConnectionOptions } from '../../config/temporal-connection.js';
import { renderWorkerPolicies, type WorkerPolicies } from '../../vault/policies/worker-policy.js';
import { VaultClient } from '../../vault/vault-client.js';
import type { StackMode } from '../../stack/ports.js';
import { readStackFile, type StackFile } from '../../stack/up.js';
import { createWorkerAppRole } from '../../stack/worker-approle.js';
import { writeWorkerPolicies } from '../../stack/worker-policies.js';
import { createWorker, type RotorWorker } from '../../workers/create-worker.js';
import { dataConverter } from '../../workers/data-converter.js';
import { createLogger } from '../../workers/logger.js';

export interface TestStack extends StackConnection {
  /** Every line the worker's pino logger wrote, for scanning for secret values. */
  logLines: string[];
  worker: RotorWorker;
  workerRun: Promise<void>;
  close(): Promise<void>;
}

/** What every test connects to: the stack, a task queue and an inventory file of its own, a client. */
export interface StackConnection {
  file: StackFile;
  env: Environment;
  /** Root-token client for arranging and inspecting Vault state from tests. */
  rootVault: VaultClient;
  client: Client;
  connection: Connection;
  taskQueue: string;
  inventoryFile: string;
  /** Replaces this file's inventory (workers re-read it on the next activity) and its worker policies. */
  writeInventory(yaml: string): Promise<void>;
  /**
   * This file's worker AppRole and policy (`env` holds its credentials), rendered from its
   * inventory; its secret policies are `<workerPolicy>-secret-<id>`.
   */
  workerPolicy: string;
  /** Rewrites the worker policies from the inventory file, `extraHcl` appended to each (to refuse a path on purpose). */
  writeWorkerPolicy(extraHcl?: string): Promise<void>;
  /** The workflow bundle the global setup built, for workers of this run. */
  workflowBundle: string;
}

/** The worker policies of an inventory; one a test made invalid on purpose gives rotor's own paths only. */
function workerPoliciesOf(yaml: string, inventoryFile: string, kvMount: string, name: string): WorkerPolicies {
  try {
    return renderWorkerPolicies(parseInventory(yaml, inventoryFile), { kvMount, name, inventoryName: inventoryFile });
  } catch (err) {
    if (!(err instanceof InventoryError)) throw err;
    return renderWorkerPolicies({ secrets: [], breakGlass: [] }, { kvMount, name, inventoryName: `${inventoryFile} (invalid)` });
  }
}

/** Connects to the stack the global setup started, with a task queue and inventory of this file's own. */
export async function connectTestStack(name: string, inventoryYaml?: string, mode: StackMode = 'test'): Promise<StackConnection> {
  const file = await readStackFile(mode);
  const taskQueue = `${name}-${randomUUID().slice(0, 8)}`;
  const inventoryFile = join(file.stateDir, `inventory-${taskQueue}.yaml`);
  await writeFile(inventoryFile, inventoryYaml ?? 'secrets: []\n');
  // The worker holds a policy rendered from this file's inventory, as a production worker does from
  // its own: a test touching a path its inventory does not name is refused, as it would be there.
  const rootVault = new VaultClient(file.env.ROTOR_VAULT_ADDR!, file.vaultRootToken);
  const workerPolicy = `rotor-worker-${taskQueue}`;
  const writeWorkerPolicy = async (extraHcl = '') =>
    writeWorkerPolicies(
      rootVault,
      workerPoliciesOf(await readFile(inventoryFile, 'utf8'), inventoryFile, file.env.ROTOR_VAULT_KV_MOUNT!, workerPolicy),
      extraHcl,
    );
  await writeWorkerPolicy();
  const appRole = await createWorkerAppRole(rootVault, workerPolicy);
  const env = loadEnvironment({
    ...file.env,
    ROTOR_TASK_QUEUE: taskQueue,
    ROTOR_INVENTORY: inventoryFile,
    ROTOR_VAULT_ROLE_ID: appRole.roleId,
    ROTOR_VAULT_SECRET_ID: appRole.secretId,
  });
  const connection = await Connection.connect(temporalConnectionOptions(env));
  const client = new Client({ connection, namespace: env.ROTOR_TEMPORAL_NAMESPACE, dataConverter: dataConverter(env.ROTOR_CODEC_KEY) });
  return {
    file,
    env,
    rootVault,
    client,
    connection,
    taskQueue,
    inventoryFile,
    async writeInventory(yaml) {
      await writeFile(inventoryFile, yaml);
      await writeWorkerPolicy();
    },
    workerPolicy,
    writeWorkerPolicy,
    workflowBundle: join(file.stateDir, 'workflow-bundle.js'),
  };
}

/** Connects to the stack the global setup started and runs a worker on a queue of this file's own. */
export async function startTestStack(name: string, inventoryYaml?: string): Promise<TestStack> {
  const conn = await connectTestStack(name, inventoryYaml);
  const logLines: string[] = [];
  const logger = createLogger('debug', { write: (line: string) => void logLines.push(line) } as pino.DestinationStream);
  const worker = await createWorker(conn.env, logger, { workflowBundle: { codePath: conn.workflowBundle } });
  const workerRun = worker.worker.run();
  return {
    ...conn,
    logLines,
    worker,
    workerRun,
    async close() {
      await conn.connection.close();
      worker.worker.shutdown();
      await workerRun;
      await worker.close();
    },
  };
}

/** A superuser connection to a database of the test cluster. */
export async function superuserClient(file: StackFile, database: string): Promise<pg.Client> {
  const client = new pg.Client({
    host: file.postgres.host,
    port: file.postgres.port,
    user: file.postgres.superuser,
    password: file.postgres.superuserPassword,
    database,
  });
  // A server shut down under a test (npm run chaos) ends the session; the next query says so.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** True when `user`/`password` can open a session on the test cluster right now. */
export async function canLogin(file: StackFile, user: string, password: string, database = 'demo'): Promise<boolean> {
  const client = new pg.Client({
    host: file.postgres.host,
    port: file.postgres.port,
    user,
    password,
    database,
    connectionTimeoutMillis: 5000,
  });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export { createLogger };

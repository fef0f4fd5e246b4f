import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import type { Inventory } from '../config/inventory-schema.js';
import { loadInventory } from '../config/load-inventory.js';
import type { ConsumerService } from '../demo/consumer-service.js';
import { dataConverter } from '../workers/data-converter.js';
import { startDemoConsumers } from './demo-consumers.js';
import { startProcess, type ManagedProcess } from './managed-process.js';
import { info, step } from './progress.js';
import { recordProcess } from './recorded-processes.js';
import { StackError } from './stack-error.js';
import { REPO_ROOT } from '../config/repo-root.js';
import { UI_CODEC_PATH } from './ui-gateway.js';
import { up, type Stack } from './up.js';
import { seedWorkflowId, stackHealthWorkflowId } from '../workflows/contracts.js';
import { seedSecret } from '../workflows/seed-secret.js';
import { stackHealth } from '../workflows/stack-health.js';
import { WORKER_NODE_FLAGS } from './worker-node-flags.mjs';

/** Makes the worker exit when this launcher dies, even by SIGKILL (it reads the lifeline's end). */
const EXIT_WITH_LAUNCHER = pathToFileURL(join(REPO_ROOT, 'stack/worker-exits-with-launcher.mjs')).href;

async function startWorker(stack: Stack, spawned: (worker: ManagedProcess) => void): Promise<ManagedProcess> {
  const logFile = join(stack.stateDir, 'worker.log');
  const worker = startProcess(
    'worker',
    process.execPath,
    [
      ...WORKER_NODE_FLAGS,
      '--import',
      'tsx',
      '--import',
      EXIT_WITH_LAUNCHER,
      join(REPO_ROOT, 'workers/main.ts'),
      // Unused by the worker: it names the state dir so a later launcher knows the pid is ours to stop.
      `--state-dir=${stack.stateDir}`,
    ],
    logFile,
    {
      ...process.env,
      ...stack.env,
    },
    { lifeline: true },
  );
  spawned(worker); // stopped with the rest if a stop comes while it starts
  let connection: Connection | undefined;
  // Cancels the health workflow's long poll before the connection closes: left running, its retry
  // would hit the closed channel and crash the launcher before it could stop the servers.
  const abandon = new AbortController();
  try {
    // At once, not after the health check: a launcher killed from here on leaves a worker to stop.
    if (worker.child.pid !== undefined) await recordProcess(stack.stateDir, 'worker', worker.child.pid);
    // Prove the chain end to end: a workflow through this worker touching Vault and PostgreSQL.
    connection = await Connection.connect({ address: stack.env.ROTOR_TEMPORAL_ADDRESS! });
    const client = new Client({ connection, dataConverter: dataConverter(stack.env.ROTOR_CODEC_KEY!) });
    const result = await Promise.race([
      connection.withAbortSignal(abandon.signal, () =>
        client.workflow.execute(stackHealth, {
          taskQueue: stack.env.ROTOR_TASK_QUEUE!,
          workflowId: stackHealthWorkflowId(Date.now()),
          args: [{}],
          workflowExecutionTimeout: '2 minutes',
        }),
      ),
      worker.exited.then((code) => {
        throw new StackError(`the worker exited with code ${code} while starting`, 'read the worker log', logFile);
      }),
    ]);
    info(`worker healthy: Vault ${result.vault.version}, migrations ${result.database.migrations.length}`);
  } catch (err) {
    await worker.stop();
    throw err;
  } finally {
    abandon.abort();
    await connection?.close();
  }
  return worker;
}

async function seedAll(stack: Stack, inventory: Inventory): Promise<void> {
  const connection = await Connection.connect({ address: stack.env.ROTOR_TEMPORAL_ADDRESS! });
  try {
    const client = new Client({ connection, dataConverter: dataConverter(stack.env.ROTOR_CODEC_KEY!) });
    for (const secret of inventory.secrets) {
      const r = await client.workflow.execute(seedSecret, {
        taskQueue: stack.env.ROTOR_TASK_QUEUE!,
        workflowId: seedWorkflowId(secret.id),
        args: [{ secretId: secret.id, requestedBy: 'npm-start' }],
      });
      info(`  ${secret.id}: ${r.created ? 'seeded version' : 'at version'} ${r.version}`);
    }
  } finally {
    await connection.close();
  }
}

/** `npm start`: the whole local stack plus a worker, until Ctrl-C stops everything in order. */
export async function startLocal(): Promise<void> {
  const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  // A closed terminal (SIGHUP) fails every later write: stopping must not die of that.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  // A stop asked for while the servers start is kept, and acted on as soon as they are up.
  let stopAsked: string | undefined;
  const early = (signal: string) => {
    if (!stopAsked) info(`${signal}: stopping as soon as the servers that are starting are up`);
    stopAsked ??= signal;
  };
  for (const s of SIGNALS) process.on(s, early);
  const stack = await up('local');
  for (const s of SIGNALS) process.off(s, early);
  const children: ManagedProcess[] = [];
  let demo: ConsumerService[] = [];
  let stopping = false;
  const stopEverything = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    info(`${signal}: stopping demo consumers, worker and servers ...`);
    for (const d of demo) await d.close();
    for (const child of children.reverse()) await child.stop();
    await stack.stop();
    info('stopped; state kept in ' + stack.stateDir);
    process.exit(0);
  };
  for (const s of SIGNALS) process.on(s, () => void stopEverything(s));
  if (stopAsked) return stopEverything(stopAsked);
  try {
    await step('starting the rotor worker and running a health workflow', () => startWorker(stack, (w) => children.push(w)));
    const inventory = await loadInventory(stack.env.ROTOR_INVENTORY!);
    await step(`seeding the inventory's secrets (${inventory.secrets.map((s) => s.id).join(', ')})`, () => seedAll(stack, inventory));
    demo = await step('starting the demo consumers', () => startDemoConsumers(stack, inventory));
    for (const d of demo) info(`  demo consumer ${d.name} at ${d.url} (version ${d.version()})`);
  } catch (err) {
    // A stop that cut the start short is not a failure: stopEverything exits when it is done.
    if (stopping) return new Promise<void>(() => undefined);
    for (const child of children) await child.stop();
    await stack.stop();
    throw err;
  }

  const p = stack.ports;
  info('');
  info('rotor is running:');
  info(`  Temporal Web UI   http://127.0.0.1:${p.temporalUi}   (payloads encrypted until this browser logs in to the codec)`);
  // The command, not the URL: the URL holds the codec token, which never goes into a terminal log.
  info(
    `  decoded UI view   open the URL printed by: echo "http://127.0.0.1:${p.temporalUi}${UI_CODEC_PATH}/login?token=$(cat '${join(stack.stateDir, 'codec.token')}')"`,
  );
  info(`                    log out: http://127.0.0.1:${p.temporalUi}${UI_CODEC_PATH}/logout`);
  info(`  codec server      ${stack.codec.url}/decode  (Bearer token in ${join(stack.stateDir, 'codec.token')})`);
  info(`  Temporal gRPC     127.0.0.1:${p.temporal}   (task queue ${stack.env.ROTOR_TASK_QUEUE})`);
  info(`  Vault API         ${stack.env.ROTOR_VAULT_ADDR}   (root token: ${join(stack.stateDir, 'vault-init.json')}, local only)`);
  info(`  PostgreSQL        127.0.0.1:${p.postgres}   (databases: rotor, demo)`);
  info(`  MariaDB           127.0.0.1:${p.mariadb}   (database demo; mysql provider)`);
  info(`  Redis             127.0.0.1:${p.redis}   (ACL users; redis-acl provider)`);
  info(`  IAM endpoint      http://127.0.0.1:${p.iam}   (moto, in memory; aws-iam-access-key provider)`);
  if (stack.env.ROTOR_METRICS_LISTEN)
    info(`  worker metrics    http://${stack.env.ROTOR_METRICS_LISTEN}/metrics   (rotor's and the Temporal SDK's)`);
  if (stack.prometheus)
    info(`  Prometheus        ${stack.prometheus.url}   (scrapes the worker; rotor's alert rules at ${stack.prometheus.url}/alerts)`);
  info(`  state and logs    ${stack.stateDir}`);
  info('');
  info('Try it (as yourself: local operators alice, bob, carol, dave, erin; passwords in operators.json):');
  info('  npx rotor login carol');
  info('  npx rotor rotate payments-db --wait     # two consumers cut over, the old password is revoked');
  info('  npx rotor rotate reporting-db --wait    # then, in another terminal: npx rotor confirm reporting-db analyst');
  info('  npx rotor rotate inventory-db --wait    # MariaDB: confirmed when the stock pool is seen on the new user only');
  info('  npx rotor rotate sessions-cache --wait  # Redis ACL: the web client moves to the other user');
  info('  npx rotor rotate demo-iam --wait        # IAM: a new access key, the old one deactivated and deleted');
  info('  npx rotor status');
  info(
    `  Temporal UI (logged in, above) → Start Workflow: type rotateSecret, task queue ${stack.env.ROTOR_TASK_QUEUE}, id rotate/payments-db, input {"secretId":"payments-db"}`,
  );
  info('');
  info('Press Ctrl-C to stop everything; `npm start` again resumes with the same state.');
  for (const child of children) {
    void child.exited.then((code) => {
      if (!stopping) {
        info(`${child.name} exited unexpectedly (code ${code}); see ${child.logFile}`);
        void stopEverything('child exit');
      }
    });
  }
}

/**
 * Benchmark: one rotation of a secret with two consumers (a webhook consumer and one that follows
 * Vault and reports its version on /health), no overlap window, repeated; side by side with a
 * baseline doing the same Vault, PostgreSQL and consumer calls directly. Run:
 * `npm run bench:rotation -- [rounds]` (default 7). Prints median, min and max.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { postgresProvider } from '../activities/providers/postgres/provider.js';
import type { PostgresAdmin, PostgresCredential } from '../activities/providers/postgres/schema.js';
import { ProviderCaches } from '../activities/providers/provider-caches.js';
import { VaultClient } from '../vault/vault-client.js';
import { VaultSession } from '../vault/vault-session.js';
import { loadEnvironment } from '../config/environment.js';
import { startConsumerService } from '../demo/consumer-service.js';
import { step } from '../stack/progress.js';
import { up } from '../stack/up.js';
import { KV_MOUNT } from '../stack/bootstrap-vault.js';
import { createInventoryWorkerAppRole } from '../stack/worker-approle.js';
import { createWorker, WORKFLOW_BUNDLER_OPTIONS, WORKFLOWS_PATH } from '../workers/create-worker.js';
import { dataConverter } from '../workers/data-converter.js';
import { createLogger } from '../workers/logger.js';
import { rotationWorkflowId } from '../workflows/contracts.js';
import { rotateSecret } from '../workflows/rotate-secret.js';

const ROUNDS = Number(process.argv[2] ?? 7);
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? 0;
const stats = (v: number[]) => `${median(v)} (${Math.min(...v)}–${Math.max(...v)})`;

async function main(): Promise<void> {
  const stack = await up('bench');
  const closers: (() => Promise<unknown>)[] = [];
  try {
    const root = new VaultClient(stack.env.ROTOR_VAULT_ADDR!, stack.vaultRootToken);
    const adminPath = '_rotor/admin/demo-postgres';
    const admin = (await root.kvRead<PostgresAdmin>('rotor', adminPath))!.data;
    const provider = postgresProvider(
      { type: 'postgres', adminPath, users: ['benchrot_a', 'benchrot_b'], database: 'demo' },
      { admin, database: 'demo' },
      new ProviderCaches(),
    );
    const first = await provider.source.generate(undefined);
    await root.kvWrite('rotor', 'bench/rotation', { ...first }, 0);
    await provider.source.apply(first);
    await root.putPolicy(
      'bench-consumer',
      'path "rotor/data/bench/rotation" { capabilities = ["read"] }\npath "rotor/metadata/bench/rotation" { capabilities = ["read"] }',
    );
    const token = async () =>
      (await root.request<{ auth: { client_token: string } }>('POST', 'auth/token/create', { policies: ['bench-consumer'] })).auth
        .client_token;
    const billing = await startConsumerService({
      name: 'billing',
      vaultAddr: root.endpoint,
      vaultToken: await token(),
      mount: 'rotor',
      path: 'bench/rotation',
    });
    const ledger = await startConsumerService({
      name: 'ledger',
      vaultAddr: root.endpoint,
      vaultToken: await token(),
      mount: 'rotor',
      path: 'bench/rotation',
      followVaultEveryMs: 100,
    });
    closers.push(
      () => billing.close(),
      () => ledger.close(),
    );
    const inventoryFile = join(stack.stateDir, 'rotation-inventory.yaml');
    await writeFile(
      inventoryFile,
      `secrets:
  - id: bench-rotation
    path: bench/rotation
    owner: bench
    overlap: 0s
    provider: { type: postgres, adminPath: ${adminPath}, users: [benchrot_a, benchrot_b], database: demo }
    consumers:
      - { name: billing, healthUrl: ${billing.url}/health, confirm: { mode: webhook, url: ${billing.url}/reload, timeout: 30s } }
      - { name: ledger, healthUrl: ${ledger.url}/health, confirm: { mode: health, url: ${ledger.url}/health, timeout: 30s } }
`,
    );
    // The bench worker's own AppRole: the stack's holds the policy of the stack's inventory only.
    const appRole = await createInventoryWorkerAppRole(root, 'rotor-worker-bench-rotation', inventoryFile, KV_MOUNT);
    const env = loadEnvironment({
      ...stack.env,
      ROTOR_INVENTORY: inventoryFile,
      ROTOR_VAULT_ROLE_ID: appRole.roleId,
      ROTOR_VAULT_SECRET_ID: appRole.secretId,
      ROTOR_LOG_LEVEL: 'warn',
    });
    const bundle = await step('bundling workflow code', () =>
      bundleWorkflowCode({
        workflowsPath: WORKFLOWS_PATH,
        ...WORKFLOW_BUNDLER_OPTIONS,
        logger: new DefaultLogger('WARN'),
      }),
    );
    const worker = await createWorker(env, createLogger('warn'), { workflowBundle: { code: bundle.code } });
    const running = worker.worker.run();
    closers.push(async () => {
      worker.worker.shutdown();
      await running;
      await worker.close();
    });
    const connection = await Connection.connect({ address: env.ROTOR_TEMPORAL_ADDRESS });
    closers.push(() => connection.close());
    const client = new Client({ connection, dataConverter: dataConverter(env.ROTOR_CODEC_KEY) });

    const rotor: number[] = [];
    await step(`${ROUNDS} rotations through rotateSecret`, async () => {
      for (let i = 0; i < ROUNDS; i++) {
        const started = Date.now();
        const result = await client.workflow.execute(rotateSecret, {
          taskQueue: env.ROTOR_TASK_QUEUE,
          workflowId: rotationWorkflowId('bench-rotation'),
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
          args: [{ secretId: 'bench-rotation', requestedBy: 'bench' }],
        });
        if (result.outcome !== 'rotated') throw new Error(`rotation ${i} ended ${result.outcome}`);
        rotor.push(Date.now() - started);
      }
    });

    // As the worker does: requests about the secret with a token holding only its policy.
    const vault = new VaultSession(env.ROTOR_VAULT_ADDR, env.ROTOR_VAULT_ROLE_ID, env.ROTOR_VAULT_SECRET_ID).forSecret('bench-rotation');
    const baseline: number[] = [];
    await step(`${ROUNDS} rotations as direct calls (baseline)`, async () => {
      for (let i = 0; i < ROUNDS; i++) {
        const started = Date.now();
        const meta = (await vault.run((v) => v.kvMetadata('rotor', 'bench/rotation')))!;
        const current = (await vault.run((v) => v.kvRead<PostgresCredential>('rotor', 'bench/rotation')))!;
        await provider.test(current.data);
        const next = await provider.source.generate(current.data);
        await vault.run((v) => v.kvWrite('rotor', `_rotor/pending/bench-rotation/baseline-${i}`, { ...next }, 0));
        await provider.source.apply(next);
        await provider.test(next);
        const version = (await vault.run((v) => v.kvWrite('rotor', 'bench/rotation', { ...next }, meta.current_version))).version;
        await fetch(`${billing.url}/reload`, { method: 'POST', body: JSON.stringify({ version }) });
        while (((await (await fetch(`${ledger.url}/health`)).json()) as { version: number }).version !== version)
          await new Promise((r) => setTimeout(r, 50));
        await provider.test(next);
        await provider.revoke(current.data, { terminateSessions: false });
        if (!(await provider.isRevoked(current.data))) throw new Error('not revoked');
        await vault.run((v) => v.kvDeleteAll('rotor', `_rotor/pending/bench-rotation/baseline-${i}`));
        baseline.push(Date.now() - started);
      }
    });
    console.log(`\none rotation, two consumers (webhook + health), no overlap, ${ROUNDS} rounds: median (min–max) ms`);
    console.log(`  rotor rotateSecret   ${stats(rotor)}`);
    console.log(`  baseline, direct     ${stats(baseline)}`);
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await stack.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

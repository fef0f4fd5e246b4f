import { WorkflowIdConflictPolicy } from '@temporalio/common';
import { startConsumerService, type ConsumerService } from '../../demo/consumer-service.js';
import type { RotationResult, RotationStatus } from '../../workflows/rotation-types.js';
import type { StackConnection } from './test-stack.js';
import type { RotateSecretInput } from '../../config/workflow-inputs.js';
import { rotationWorkflowId, statusQuery } from '../../workflows/contracts.js';
import { rotateSecret } from '../../workflows/rotate-secret.js';
import { seedSecret } from '../../workflows/seed-secret.js';

export const DEMO_ADMIN_PATH = '_rotor/admin/demo-postgres';

export function roleNames(secretId: string): [string, string] {
  const base = secretId.replace(/-/g, '_');
  return [`${base}_a`, `${base}_b`];
}

/** One postgres secret's inventory YAML; `consumers` is YAML list text already indented by 6. */
export function postgresSecretYaml(secretId: string, consumers = '', overlap = '1s'): string {
  const [a, b] = roleNames(secretId);
  return `  - id: ${secretId}
    path: apps/${secretId}
    owner: team-test
    tags: [test]
    provider: { type: postgres, adminPath: ${DEMO_ADMIN_PATH}, users: [${a}, ${b}], database: demo }
    overlap: ${overlap}
    consumers:${consumers ? `\n${consumers}` : ' []'}
`;
}

export async function seed(stack: StackConnection, secretId: string): Promise<number> {
  const result = await stack.client.workflow.execute(seedSecret, {
    taskQueue: stack.taskQueue,
    workflowId: `seed/${secretId}/${stack.taskQueue}`,
    args: [{ secretId, requestedBy: 'test' }],
  });
  return (result as { version: number }).version;
}

/** A read-only Vault token for one secret path, as a real consumer would hold. */
export async function consumerToken(stack: StackConnection, secretId: string): Promise<string> {
  const policy = `consumer-${secretId}`;
  await stack.rootVault.putPolicy(
    policy,
    `path "rotor/data/apps/${secretId}" { capabilities = ["read"] }\npath "rotor/metadata/apps/${secretId}" { capabilities = ["read"] }`,
  );
  const created = await stack.rootVault.request<{ auth: { client_token: string } }>('POST', 'auth/token/create', {
    policies: [policy],
    ttl: '1h',
  });
  return created.auth.client_token;
}

export async function startConsumer(
  stack: StackConnection,
  secretId: string,
  name: string,
  followVaultEveryMs?: number,
  load?: { query: string; everyMs: number },
): Promise<ConsumerService> {
  return startConsumerService({
    name,
    vaultAddr: stack.env.ROTOR_VAULT_ADDR,
    vaultToken: await consumerToken(stack, secretId),
    mount: 'rotor',
    path: `apps/${secretId}`,
    followVaultEveryMs,
    ...(load ? { load } : {}),
  });
}

export function startRotation(stack: StackConnection, secretId: string, extra: Partial<RotateSecretInput> = {}) {
  return stack.client.workflow.start(rotateSecret, {
    taskQueue: stack.taskQueue,
    workflowId: rotationWorkflowId(secretId),
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
    args: [{ secretId, requestedBy: 'test', ...extra }],
  });
}

export async function rotate(stack: StackConnection, secretId: string): Promise<RotationResult> {
  return (await startRotation(stack, secretId)).result();
}

/** Polls the workflow's status query until `predicate` holds. */
export async function waitForStatus(
  stack: StackConnection,
  workflowId: string,
  predicate: (s: RotationStatus) => boolean,
  timeoutMs = 30_000,
): Promise<RotationStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await stack.client.workflow
      .getHandle(workflowId)
      .query(statusQuery)
      .catch(() => undefined);
    if (status && predicate(status)) return status;
    if (Date.now() > deadline) throw new Error(`status of ${workflowId} never matched; last: ${JSON.stringify(status)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface DbCredential {
  username: string;
  password: string;
}

export async function kvVersion(
  stack: StackConnection,
  secretId: string,
  version?: number,
): Promise<{ data: DbCredential; version: number }> {
  const read = await stack.rootVault.kvRead<DbCredential>('rotor', `apps/${secretId}`, version);
  if (!read) throw new Error(`no version ${version ?? 'current'} of apps/${secretId}`);
  return { data: read.data, version: read.metadata.version };
}

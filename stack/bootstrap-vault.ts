import { join } from 'node:path';
import { VaultClient } from '../vault/vault-client.js';
import type { Inventory } from '../config/inventory-schema.js';
import { writeInventoryWorkerPolicies } from './worker-policies.js';

export const KV_MOUNT = 'rotor';
export const WORKER_ROLE = 'rotor-worker';

export interface WorkerAppRole {
  roleId: string;
  secretId: string;
}

/** Idempotent: mounts, audit device, policy and AppRole are created only when missing. */
export async function bootstrapVault(
  address: string,
  rootToken: string,
  stateDir: string,
  isOpenBao: boolean,
  stackInventory: { file: string; inventory: Inventory },
): Promise<WorkerAppRole> {
  const vault = new VaultClient(address, rootToken);
  const mounts = await vault.mounts();
  if (!mounts[`${KV_MOUNT}/`]) await vault.enableEngine(KV_MOUNT, 'kv', { version: '2' });
  if (!mounts['database/']) await vault.enableEngine('database', 'database');
  // OpenBao declares its audit device in the config file (see vault-server.ts).
  const audits = await vault.audits();
  if (!isOpenBao && !audits['file/']) await vault.enableFileAudit('file', join(stateDir, 'vault-audit.log'));
  // Exactly what the stack's inventory names (vault/policies/worker-policy.ts): the worker policy,
  // one policy per secret and the token role for their child tokens; rewritten on every start.
  await writeInventoryWorkerPolicies(vault, WORKER_ROLE, stackInventory.inventory, {
    kvMount: KV_MOUNT,
    inventoryName: stackInventory.file,
  });
  const auths = await vault.auths();
  if (!auths['approle/']) await vault.enableAuth('approle', 'approle');
  await vault.request('POST', `auth/approle/role/${WORKER_ROLE}`, {
    token_policies: [WORKER_ROLE],
    // Only what the inventory names: not even Vault's default policy (wrapping, cubbyhole).
    token_no_default_policy: true,
    token_ttl: '1h',
    token_max_ttl: '4h',
    secret_id_ttl: '0',
  });
  const roleId = (await vault.request<{ data: { role_id: string } }>('GET', `auth/approle/role/${WORKER_ROLE}/role-id`)).data.role_id;
  const secretId = (await vault.request<{ data: { secret_id: string } }>('POST', `auth/approle/role/${WORKER_ROLE}/secret-id`, {})).data
    .secret_id;
  return { roleId, secretId };
}

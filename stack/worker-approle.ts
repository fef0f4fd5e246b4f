import { loadInventory } from '../config/load-inventory.js';
import type { VaultClient } from '../vault/vault-client.js';
import type { WorkerAppRole } from './bootstrap-vault.js';
import { writeInventoryWorkerPolicies } from './worker-policies.js';

/**
 * A worker AppRole of its own, holding the policy of the same name: for a worker that serves
 * another inventory than the stack's (each test file, the benchmarks), so its token holds that
 * inventory's policies and nothing of the stack's. Idempotent: the role is rewritten, and each
 * call issues a new secret ID. The caller writes the policy set (writeWorkerPolicies).
 */
export async function createWorkerAppRole(root: VaultClient, name: string): Promise<WorkerAppRole> {
  await root.request('POST', `auth/approle/role/${name}`, {
    token_policies: [name],
    // Without Vault's `default` policy (response wrapping, cubbyhole, ...): the token holds the rendered policy only.
    token_no_default_policy: true,
    token_ttl: '1h',
    token_max_ttl: '4h',
    secret_id_ttl: '0',
  });
  const roleId = (await root.request<{ data: { role_id: string } }>('GET', `auth/approle/role/${name}/role-id`)).data.role_id;
  const secretId = (await root.request<{ data: { secret_id: string } }>('POST', `auth/approle/role/${name}/secret-id`, {})).data.secret_id;
  return { roleId, secretId };
}

/** The same, its policy set rendered from an inventory file. */
export async function createInventoryWorkerAppRole(
  root: VaultClient,
  name: string,
  inventoryFile: string,
  kvMount: string,
): Promise<WorkerAppRole> {
  await writeInventoryWorkerPolicies(root, name, await loadInventory(inventoryFile), { kvMount, inventoryName: inventoryFile });
  return createWorkerAppRole(root, name);
}

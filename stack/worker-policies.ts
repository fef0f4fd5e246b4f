import {
  renderWorkerPolicies,
  SECRET_TOKEN_TTL,
  secretPolicyPrefix,
  secretsTokenRole,
  type PolicyInventory,
  type WorkerPolicies,
} from '../vault/policies/worker-policy.js';
import type { VaultClient } from '../vault/vault-client.js';

/**
 * Writes a worker's policy set (vault/policies/worker-policy.ts): the worker policy, every secret
 * policy, the token role that mints child tokens holding one secret policy each, and deletes the
 * secret policies of secrets no longer in the inventory (their child tokens lose access at once).
 * `extraHcl` is appended to every policy of the set (tests refuse a path on purpose with it).
 */
export async function writeWorkerPolicies(root: VaultClient, set: WorkerPolicies, extraHcl = ''): Promise<void> {
  const extra = extraHcl ? `\n${extraHcl}` : '';
  const role = `auth/token/roles/${secretsTokenRole(set.name)}`;
  // The secret policies this worker had: the token role lists them by name, never by prefix (another
  // worker's policies may share a prefix with ours).
  const before = await root
    .request<{ data: { allowed_policies?: string[] } }>('GET', role)
    .then((r) => r.data.allowed_policies ?? [])
    .catch(() => [] as string[]);
  await root.putPolicy(set.name, `${set.worker}${extra}`);
  const wanted = new Set<string>();
  const secrets = Object.values(set.secrets);
  // A few at a time: an inventory of a thousand secrets is a thousand writes.
  for (let i = 0; i < secrets.length; i += 16)
    await Promise.all(
      secrets.slice(i, i + 16).map(async ({ name, hcl }) => {
        wanted.add(name);
        await root.putPolicy(name, `${hcl}${extra}`);
      }),
    );
  await root.request('POST', role, {
    // Exactly this inventory's secret policies (an empty list would allow any of the parent's own).
    allowed_policies: wanted.size ? [...wanted].sort() : [`${secretPolicyPrefix(set.name)}none`],
    allowed_policies_glob: [],
    disallowed_policies: ['root'],
    // Children of the worker's token: they end with it, and never outlive what it may do.
    orphan: false,
    renewable: false,
    token_type: 'service',
    // Only the one secret policy: not even Vault's default policy (wrapping, cubbyhole).
    token_no_default_policy: true,
    token_explicit_max_ttl: SECRET_TOKEN_TTL,
  });
  const stale = before.filter((name) => name.startsWith(secretPolicyPrefix(set.name)) && !wanted.has(name));
  for (const name of stale) await root.request('DELETE', `sys/policies/acl/${name}`);
}

/** Writes the policy set of `inventory` under the worker policy `name` (vault/policies/worker-policy.ts). */
export async function writeInventoryWorkerPolicies(
  root: VaultClient,
  name: string,
  inventory: PolicyInventory,
  { kvMount, inventoryName, extraHcl }: { kvMount: string; inventoryName?: string; extraHcl?: string },
): Promise<void> {
  await writeWorkerPolicies(
    root,
    renderWorkerPolicies(inventory, { kvMount, name, ...(inventoryName ? { inventoryName } : {}) }),
    extraHcl,
  );
}

import { loadInventory } from '../../config/load-inventory.js';
import { operatorPolicy } from '../../vault/policies/operator-policy.js';
import { renderWorkerPolicies, UnsafePolicyPathError, workerPoliciesText } from '../../vault/policies/worker-policy.js';
import { CliError, usageError } from '../cli-error.js';

export const policyHelp = `usage: rotor policy render worker|operator [--inventory <file>] [--kv-mount <mount>] [--name <policy>]

Prints a Vault policy (HCL) for rotor; reads files only, needs no server and no credential.

  worker     exactly what the inventory names, as a set: the worker policy "rotor-worker" (rotor's
             own paths, break-glass connections, leases, and minting child tokens through the token
             role rotor-worker-secrets) and one policy "rotor-worker-secret-<id>" per secret (its KV
             path and staged credentials, its provider's admin credential or AppRole role). Each
             policy follows a line "# policy <name>"; write them all whenever the inventory changes
             (README, "The worker's Vault policy").
  operator   what a person's own token needs (identity token, KV metadata, codec key, audit check)

The inventory is --inventory or ROTOR_INVENTORY; the KV mount is --kv-mount, ROTOR_VAULT_KV_MOUNT
or "rotor"; --name names the worker policy (the one policy on the worker's AppRole; default
"rotor-worker"), and so the secret policies and the token role.`;

/** The worker policy's name in production and in the local stack (stack/bootstrap-vault.ts). */
const WORKER_POLICY = 'rotor-worker';

export async function policyRender(args: { which?: string; inventory?: string; kvMount?: string; name?: string }): Promise<number> {
  const kvMount = args.kvMount ?? process.env.ROTOR_VAULT_KV_MOUNT ?? 'rotor';
  if (args.which === 'operator') {
    process.stdout.write(operatorPolicy(kvMount));
    return 0;
  }
  if (args.which !== 'worker')
    throw usageError(`name the policy to render, not "${args.which ?? ''}"`, "use 'rotor policy render worker|operator'");
  const name = args.name ?? WORKER_POLICY;
  if (!/^[A-Za-z0-9_-]+$/.test(name))
    throw usageError(
      `--name "${name}" is not a Vault policy name rotor can derive names from`,
      'use letters, digits, "-" and "_", e.g. --name rotor-worker',
    );
  const file = args.inventory ?? process.env.ROTOR_INVENTORY;
  if (!file) throw usageError('no inventory to render the worker policy from', 'pass --inventory <file> or set ROTOR_INVENTORY');
  try {
    process.stdout.write(workerPoliciesText(renderWorkerPolicies(await loadInventory(file), { kvMount, name, inventoryName: file })));
  } catch (err) {
    if (err instanceof UnsafePolicyPathError) throw new CliError(err.message, `fix it in ${file}`, 2);
    throw err;
  }
  return 0;
}

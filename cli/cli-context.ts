import { Client, Connection } from '@temporalio/client';
import type { Environment } from '../config/environment.js';
import type { Inventory } from '../config/inventory-schema.js';
import { loadInventory } from '../config/load-inventory.js';
import { temporalConnectionOptions } from '../config/temporal-connection.js';
import { CODEC_KEY_PATH } from '../vault/policies/operator-policy.js';
import { dataConverter } from '../workers/data-converter.js';
import { CliError, usageError } from './cli-error.js';
import { operatorEnvironment, type OperatorEnvironment } from './operator-environment.js';
import { OperatorSession, operatorVaultError, type Operator } from './operator-session.js';

export interface CliContext {
  env: OperatorEnvironment;
  client: Client;
  /** The operator's own Vault session (their token and policy). */
  session: OperatorSession;
  inventory(): Promise<Inventory>;
  /** Who the operator's token belongs to (for messages; the worker verifies identity tokens itself). */
  operator(): Promise<Operator>;
  /** A fresh Vault identity token proving the operator's identity for one action. */
  identity(): Promise<string>;
  close(): Promise<void>;
}

export { operatorEnvironment as cliEnvironment };

/**
 * Connects as the operator: their Vault token (after `rotor login`), the codec key read from Vault
 * with it (so decoding rotor's payloads is a Vault permission, revocable per person), Temporal.
 */
export async function cliContext(): Promise<CliContext> {
  const env = operatorEnvironment();
  const session = await OperatorSession.open(env);
  let codecKey: string | undefined;
  try {
    codecKey = (await session.vault.kvRead<{ key: string }>(env.ROTOR_VAULT_KV_MOUNT, CODEC_KEY_PATH))?.data.key;
  } catch (err) {
    throw operatorVaultError(err, `reading rotor's codec key (${env.ROTOR_VAULT_KV_MOUNT}/${CODEC_KEY_PATH})`);
  }
  if (!codecKey)
    throw new CliError(
      `Vault has no codec key at ${env.ROTOR_VAULT_KV_MOUNT}/${CODEC_KEY_PATH}`,
      "write the workers' ROTOR_CODEC_KEY there (the local stack does): vault kv put rotor/_rotor/codec key=…",
    );
  let connection: Connection;
  try {
    // Only the Temporal settings are read (the operator environment has no worker credentials).
    connection = await Connection.connect({ ...temporalConnectionOptions(env as unknown as Environment), connectTimeout: 5000 });
  } catch (err) {
    throw new CliError(
      `cannot reach Temporal at ${env.ROTOR_TEMPORAL_ADDRESS}: ${(err as Error).message}`,
      "is 'npm start' running? or set ROTOR_TEMPORAL_ADDRESS",
    );
  }
  const client = new Client({ connection, namespace: env.ROTOR_TEMPORAL_NAMESPACE, dataConverter: dataConverter(codecKey) });
  let cached: Inventory | undefined;
  let who: Promise<Operator> | undefined;
  return {
    env,
    client,
    session,
    inventory: async () => (cached ??= await loadInventory(env.ROTOR_INVENTORY)),
    operator: () => (who ??= session.whoami()),
    identity: () => session.identityToken(),
    close: () => connection.close(),
  };
}

/** The inventory entry for `secretId`, or a usage error that lists the known ids. */
export async function requireSecret(ctx: CliContext, secretId: string | undefined) {
  const inventory = await ctx.inventory();
  if (!secretId) throw usageError('missing <secret>', `name one of: ${inventory.secrets.map((s) => s.id).join(', ')}`);
  const spec = inventory.secrets.find((s) => s.id === secretId);
  if (!spec)
    throw usageError(
      `unknown secret "${secretId}"`,
      `name one of: ${inventory.secrets.map((s) => s.id).join(', ')} (inventory: ${ctx.env.ROTOR_INVENTORY})`,
    );
  return spec;
}

/** Who started something, for the record: the logged-in operator's Vault name. */
export async function actor(ctx: CliContext): Promise<string> {
  return (await ctx.operator()).name;
}

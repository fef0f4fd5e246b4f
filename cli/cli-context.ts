import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { EnvironmentError, loadEnvironment, type Environment } from '../config/environment.js';
import type { Inventory } from '../config/inventory-schema.js';
import { loadInventory } from '../config/load-inventory.js';
import { REPO_ROOT } from '../config/repo-root.js';
import { dataConverter } from '../workers/data-converter.js';
import { CliError, usageError } from './cli-error.js';

export interface CliContext {
  env: Environment;
  client: Client;
  inventory(): Promise<Inventory>;
  close(): Promise<void>;
}

/**
 * ROTOR_* variables when set; otherwise the running local stack's (`npm start`) stack.json,
 * so `npx rotor …` works next to `npm start` with no set-up.
 */
export function cliEnvironment(): Environment {
  const localStack = process.env.ROTOR_STATE_DIR
    ? join(process.env.ROTOR_STATE_DIR, 'stack.json')
    : join(REPO_ROOT, '.rotor', 'local', 'stack.json');
  const fromStack =
    !process.env.ROTOR_VAULT_ADDR && existsSync(localStack)
      ? (JSON.parse(readFileSync(localStack, 'utf8')) as { env: Record<string, string> }).env
      : {};
  try {
    return loadEnvironment({ ...fromStack, ...process.env });
  } catch (err) {
    if (err instanceof EnvironmentError) {
      throw new CliError(
        err.message,
        "start the local stack with 'npm start' in another terminal, or export the ROTOR_* variables of your deployment",
      );
    }
    throw err;
  }
}

export async function cliContext(): Promise<CliContext> {
  const env = cliEnvironment();
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: env.ROTOR_TEMPORAL_ADDRESS, connectTimeout: 5000 });
  } catch (err) {
    throw new CliError(
      `cannot reach Temporal at ${env.ROTOR_TEMPORAL_ADDRESS}: ${(err as Error).message}`,
      "is 'npm start' running? or set ROTOR_TEMPORAL_ADDRESS",
    );
  }
  const client = new Client({ connection, namespace: env.ROTOR_TEMPORAL_NAMESPACE, dataConverter: dataConverter(env.ROTOR_CODEC_KEY) });
  let cached: Inventory | undefined;
  return {
    env,
    client,
    inventory: async () => (cached ??= await loadInventory(env.ROTOR_INVENTORY)),
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

export function actor(flag: string | undefined): string {
  return flag ?? `cli:${process.env.USER ?? process.env.LOGNAME ?? 'unknown'}`;
}

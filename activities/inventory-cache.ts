import { statSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import { loadInventory } from '../config/load-inventory.js';
import type { Inventory, SecretSpec } from '../config/inventory-schema.js';
import { FailureType } from '../workflows/failure-types.js';

let cached: { file: string; mtimeMs: number; inventory: Inventory; byId: Map<string, SecretSpec> } | undefined;

/**
 * The inventory, re-read when the file changes, so an edit applies without restarting workers.
 * Every step of every rotation asks, so the check is a synchronous stat (microseconds, no
 * thread-pool round trip) and secrets are indexed by id.
 */
async function current(file: string): Promise<NonNullable<typeof cached>> {
  const { mtimeMs } = statSync(file);
  if (cached?.file !== file || cached.mtimeMs !== mtimeMs) {
    const inventory = await loadInventory(file);
    cached = { file, mtimeMs, inventory, byId: new Map(inventory.secrets.map((s) => [s.id, s])) };
  }
  return cached;
}

export async function currentInventory(file: string): Promise<Inventory> {
  return (await current(file)).inventory;
}

export async function secretSpec(file: string, secretId: string): Promise<SecretSpec> {
  const { inventory, byId } = await current(file);
  const spec = byId.get(secretId);
  if (!spec) {
    throw ApplicationFailure.nonRetryable(
      `secretId "${secretId}" is not in the inventory (${file}); known: ${inventory.secrets.map((s) => s.id).join(', ')}`,
      FailureType.UnknownSecret,
    );
  }
  return spec;
}

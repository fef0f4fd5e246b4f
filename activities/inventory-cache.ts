import { stat } from 'node:fs/promises';
import { loadInventory } from '../config/load-inventory.js';
import type { Inventory, SecretSpec } from '../config/inventory-schema.js';
import { ApplicationFailure } from '@temporalio/common';

let cached: { file: string; mtimeMs: number; inventory: Inventory } | undefined;

/** The inventory, re-read when the file changes, so an edit applies without restarting workers. */
export async function currentInventory(file: string): Promise<Inventory> {
  const { mtimeMs } = await stat(file);
  if (cached?.file !== file || cached.mtimeMs !== mtimeMs) cached = { file, mtimeMs, inventory: await loadInventory(file) };
  return cached.inventory;
}

export async function secretSpec(file: string, secretId: string): Promise<SecretSpec> {
  const inventory = await currentInventory(file);
  const spec = inventory.secrets.find((s) => s.id === secretId);
  if (!spec) {
    throw ApplicationFailure.nonRetryable(
      `secretId "${secretId}" is not in the inventory (${file}); known: ${inventory.secrets.map((s) => s.id).join(', ')}`,
      'UnknownSecret',
    );
  }
  return spec;
}

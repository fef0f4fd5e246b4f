import { statSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import { loadInventory } from '../config/load-inventory.js';
import type { Inventory, SecretSpec } from '../config/inventory-schema.js';
import { FailureType } from '../workflows/failure-types.js';

/**
 * A worker's view of its inventory file, re-read when the file changes, so an edit applies without
 * restarting workers. Every step of every rotation asks, so the check is a synchronous stat
 * (microseconds, no thread-pool round trip) and secrets are indexed by id. One per worker, in the
 * activity context.
 */
export class InventoryCache {
  private cached: { mtimeMs: number; inventory: Inventory; byId: Map<string, SecretSpec> } | undefined;

  constructor(readonly file: string) {}

  private async load(): Promise<NonNullable<InventoryCache['cached']>> {
    const { mtimeMs } = statSync(this.file);
    if (this.cached?.mtimeMs !== mtimeMs) {
      const inventory = await loadInventory(this.file);
      this.cached = { mtimeMs, inventory, byId: new Map(inventory.secrets.map((s) => [s.id, s])) };
    }
    return this.cached;
  }

  async current(): Promise<Inventory> {
    return (await this.load()).inventory;
  }

  async secret(secretId: string): Promise<SecretSpec> {
    const { inventory, byId } = await this.load();
    const spec = byId.get(secretId);
    if (!spec) {
      throw ApplicationFailure.nonRetryable(
        `secretId "${secretId}" is not in the inventory (${this.file}); known: ${inventory.secrets.map((s) => s.id).join(', ')}`,
        FailureType.UnknownSecret,
      );
    }
    return spec;
  }
}

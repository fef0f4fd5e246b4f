import { bestEffort } from '../rotation-activities.js';
import type { RotationRef, RotationSpec } from '../rotation-types.js';

/**
 * How a rollback told consumers before Patch.ROLLBACK_WAITS_FOR_CONSUMERS: one short try for
 * webhook and health consumers, nothing for the others. Still what a consumer that never moved to
 * the new version gets (it only needs to hear of the restored one).
 */
export async function tellRestoredV1(ref: RotationRef, spec: RotationSpec, restoredVersion: number): Promise<void> {
  await Promise.all(
    spec.consumers.map(async (c) => {
      try {
        if (c.mode === 'webhook')
          await bestEffort.notifyConsumer({ ...ref, consumer: c.name, version: restoredVersion, purpose: 'rollback' });
        if (c.mode === 'health') await bestEffort.awaitHealthVersion({ ...ref, consumer: c.name, version: restoredVersion });
      } catch {
        // Best effort: the restored version is current in Vault whatever the consumer says.
      }
    }),
  );
}

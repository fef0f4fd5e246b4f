import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import type { Inventory, SecretSpec } from '../config/inventory-schema.js';
import { rotateSecret } from '../workflows/rotate-secret.js';
import { ROTATION_ID_PREFIX, rotationScheduleId } from '../workflows/contracts.js';
import { cadenceFingerprint, describeCadence, type ScheduleChange } from './schedule-changes.js';

interface Existing {
  fingerprint?: string;
  /** The paused state the inventory asked for when rotor last wrote this schedule. */
  desiredPaused?: boolean;
}

function scheduleOptions(secret: SecretSpec, taskQueue: string): ScheduleOptions {
  const c = secret.cadence!;
  return {
    scheduleId: rotationScheduleId(secret.id),
    spec: {
      ...(c.cron ? { cronExpressions: [c.cron] } : { intervals: [{ every: c.every! }] }),
      ...(c.jitter ? { jitter: c.jitter } : {}),
    },
    action: {
      type: 'startWorkflow',
      workflowType: rotateSecret,
      taskQueue,
      // Temporal appends a timestamp to this id; the run then claims rotate/<secretId> itself.
      workflowId: rotationScheduleId(secret.id),
      args: [{ secretId: secret.id, requestedBy: 'schedule' }],
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, ...(c.catchupWindow ? { catchupWindow: c.catchupWindow } : {}) },
    state: { paused: c.paused, note: `managed by rotor: ${describeCadence(secret.cadence!)}` },
    memo: { rotorManaged: true, rotorFingerprint: cadenceFingerprint(secret, taskQueue), rotorPaused: c.paused },
  };
}

async function existingSchedules(client: Client): Promise<Map<string, Existing>> {
  const found = new Map<string, Existing>();
  for await (const s of client.schedule.list()) {
    if (!s.scheduleId.startsWith(ROTATION_ID_PREFIX)) continue;
    const memo = (s.memo ?? {}) as { rotorManaged?: boolean; rotorFingerprint?: string; rotorPaused?: boolean };
    if (memo.rotorManaged) found.set(s.scheduleId, { fingerprint: memo.rotorFingerprint, desiredPaused: memo.rotorPaused });
  }
  return found;
}

/** Listing is eventually consistent; describing the ids we expect is not. */
async function describeKnown(client: Client, ids: string[], into: Map<string, Existing>): Promise<void> {
  for (const id of ids) {
    if (into.has(id)) continue;
    try {
      const d = await client.schedule.getHandle(id).describe();
      const memo = (d.memo ?? {}) as { rotorManaged?: boolean; rotorFingerprint?: string; rotorPaused?: boolean };
      if (memo.rotorManaged) into.set(id, { fingerprint: memo.rotorFingerprint, desiredPaused: memo.rotorPaused });
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    }
  }
}

/** What `applyScheduleChanges` would do to make Temporal's schedules match the inventory. Changes nothing. */
export async function diffSchedules(client: Client, inventory: Inventory, taskQueue: string): Promise<ScheduleChange[]> {
  const existing = await existingSchedules(client);
  await describeKnown(
    client,
    inventory.secrets.map((s) => rotationScheduleId(s.id)),
    existing,
  );
  const changes: ScheduleChange[] = [];
  for (const secret of inventory.secrets) {
    const scheduleId = rotationScheduleId(secret.id);
    const current = existing.get(scheduleId);
    existing.delete(scheduleId);
    if (!secret.cadence) {
      if (current) changes.push({ action: 'delete', scheduleId, secretId: secret.id, detail: 'the secret no longer has a cadence' });
      continue;
    }
    if (!current) {
      changes.push({ action: 'create', scheduleId, secretId: secret.id, detail: describeCadence(secret.cadence!) });
    } else if (current.fingerprint !== cadenceFingerprint(secret, taskQueue)) {
      changes.push({ action: 'update', scheduleId, secretId: secret.id, detail: describeCadence(secret.cadence!) });
    } else if (current.desiredPaused !== secret.cadence.paused) {
      changes.push({
        action: secret.cadence.paused ? 'pause' : 'unpause',
        scheduleId,
        secretId: secret.id,
        detail: `inventory says paused: ${secret.cadence.paused}`,
      });
    } else {
      changes.push({ action: 'unchanged', scheduleId, secretId: secret.id, detail: describeCadence(secret.cadence!) });
    }
  }
  for (const [scheduleId, e] of existing) {
    // Another deployment (task queue) in the same namespace owns its own schedules.
    if (e.fingerprint && (JSON.parse(e.fingerprint) as { taskQueue?: string }).taskQueue !== taskQueue) continue;
    changes.push({
      action: 'delete',
      scheduleId,
      secretId: scheduleId.slice(ROTATION_ID_PREFIX.length),
      detail: 'the secret is no longer in the inventory',
    });
  }
  return changes;
}

/**
 * Makes Temporal's rotor-managed schedules match the inventory: create, update, pause/unpause,
 * delete. A pause made by an operator (`rotor schedules pause`) survives until the inventory's
 * own `paused` value changes. Schedules rotor did not create are never touched.
 */
export async function reconcileSchedules(client: Client, inventory: Inventory, taskQueue: string): Promise<ScheduleChange[]> {
  const changes = await diffSchedules(client, inventory, taskQueue);
  const byId = new Map(inventory.secrets.map((s) => [rotationScheduleId(s.id), s]));
  for (const change of changes) {
    const secret = byId.get(change.scheduleId);
    const handle = client.schedule.getHandle(change.scheduleId);
    switch (change.action) {
      case 'create':
        await client.schedule.create(scheduleOptions(secret!, taskQueue));
        break;
      case 'update': {
        // An update cannot change the memo, so the schedule is recreated with its new spec.
        await handle.delete();
        await client.schedule.create(scheduleOptions(secret!, taskQueue));
        break;
      }
      case 'pause':
      case 'unpause': {
        await handle.delete();
        await client.schedule.create(scheduleOptions(secret!, taskQueue));
        break;
      }
      case 'delete':
        await handle.delete();
        break;
      case 'unchanged':
        break;
    }
  }
  return changes;
}

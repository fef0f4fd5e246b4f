import type { SecretSpec } from '../config/inventory-schema.js';

/** What reconciling would do (or did) to one schedule. */
export type ScheduleChange =
  | { action: 'create'; scheduleId: string; secretId: string; detail: string }
  | { action: 'update'; scheduleId: string; secretId: string; detail: string }
  | { action: 'pause' | 'unpause'; scheduleId: string; secretId: string; detail: string }
  | { action: 'delete'; scheduleId: string; secretId: string; detail: string }
  | { action: 'unchanged'; scheduleId: string; secretId: string; detail: string };

/** The fields of a cadence that shape the schedule; stored in its memo to detect drift. */
export function cadenceFingerprint(secret: SecretSpec, taskQueue: string): string {
  const c = secret.cadence!;
  return JSON.stringify({
    cron: c.cron ?? null,
    every: c.every ?? null,
    jitter: c.jitter ?? null,
    catchupWindow: c.catchupWindow ?? null,
    taskQueue,
  });
}

export function describeCadence(secret: SecretSpec): string {
  const c = secret.cadence!;
  const base = c.cron ? `cron "${c.cron}"` : `every ${c.every! / 1000}s`;
  return `${base}${c.jitter ? `, jitter ${c.jitter / 1000}s` : ''}${c.paused ? ', paused' : ''}`;
}

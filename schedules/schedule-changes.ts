import { formatDuration } from '../config/duration.js';
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

/** "every 6h, jitter 5m, paused" or `cron "0 3 * * 0"`: a cadence as schedules and reports show it. */
export function describeCadence(c: NonNullable<SecretSpec['cadence']>): string {
  const base = c.cron ? `cron "${c.cron}"` : `every ${formatDuration(c.every!)}`;
  return `${base}${c.jitter ? `, jitter ${formatDuration(c.jitter)}` : ''}${c.paused ? ', paused' : ''}`;
}

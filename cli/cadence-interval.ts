import type { SecretSpec } from '../config/inventory-schema.js';

/*
 * How often a cadence rotates, for the debt report's compliance: `every` as given, a cron's
 * longest gap between its next runs (UTC, as Temporal Schedules run by default). A small evaluator
 * of five-field cron; syntax it does not know (L, W, #) yields undefined.
 */

const SHORTHANDS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** The values one cron field allows, or undefined for syntax this evaluator does not know (L, W, #). */
function cronField(field: string, min: number, max: number, names?: string[], nameBase = 0): Set<number> | undefined {
  const out = new Set<number>();
  const value = (text: string): number | undefined => {
    const named = names?.indexOf(text.toUpperCase()) ?? -1;
    if (named >= 0) return named + nameBase;
    return /^\d+$/.test(text) ? Number(text) : undefined;
  };
  for (const part of field.split(',')) {
    const m = /^(\*|\?|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:\/(\d+))?$/.exec(part);
    if (!m) return undefined;
    const [, range, stepText] = m;
    const step = stepText === undefined ? 1 : Number(stepText);
    let lo: number | undefined;
    let hi: number | undefined;
    if (range === '*' || range === '?') [lo, hi] = [min, max];
    else {
      const [a, b] = range!.split('-');
      lo = value(a!);
      hi = b === undefined ? (stepText === undefined ? lo : max) : value(b);
    }
    if (lo === undefined || hi === undefined || step < 1 || lo < min || hi > max || lo > hi) return undefined;
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

/**
 * The next `count` run times (UTC, as Temporal evaluates a schedule without a time zone) of a
 * five-field cron expression or @shorthand after `from`; undefined when the syntax is beyond this
 * evaluator (L, W, #).
 */
export function cronNextRuns(expression: string, from: Date, count: number): Date[] | undefined {
  const text = SHORTHANDS[expression.trim()] ?? expression.trim();
  const f = text.split(/\s+/);
  if (f.length !== 5) return undefined;
  const minutes = cronField(f[0]!, 0, 59);
  const hours = cronField(f[1]!, 0, 23);
  const doms = cronField(f[2]!, 1, 31);
  const months = cronField(f[3]!, 1, 12, MONTHS, 1);
  const dowsRaw = cronField(f[4]!, 0, 7, DAYS);
  if (!minutes || !hours || !doms || !months || !dowsRaw) return undefined;
  const dows = new Set([...dowsRaw].map((d) => d % 7));
  // Temporal Schedules require both day fields to match: classic cron's "either, when both are
  // restricted" is not implemented there (@temporalio/client ScheduleSpec.cronExpressions).
  const dayMatches = (d: Date) => doms.has(d.getUTCDate()) && dows.has(d.getUTCDay());
  const sortedHours = [...hours].sort((a, b) => a - b);
  const sortedMinutes = [...minutes].sort((a, b) => a - b);
  const runs: Date[] = [];
  const start = new Date(Math.floor(from.getTime() / 60_000) * 60_000 + 60_000);
  const day = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate()));
  // Ten years of days is enough for every expression (29 February included).
  for (let i = 0; i < 3660 && runs.length < count; i++, day.setUTCDate(day.getUTCDate() + 1)) {
    if (!months.has(day.getUTCMonth() + 1) || !dayMatches(day)) continue;
    for (const h of sortedHours)
      for (const m of sortedMinutes) {
        const t = new Date(day.getTime() + h * 3_600_000 + m * 60_000);
        if (t >= start && runs.length < count) runs.push(t);
      }
  }
  return runs;
}

/** The longest gap between consecutive times (ms), or undefined with fewer than two. */
export function longestGap(times: Date[]): number | undefined {
  let gap: number | undefined;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap ?? 0, times[i]!.getTime() - times[i - 1]!.getTime());
  return gap;
}

/**
 * The interval a cadence promises, in ms: `every` as given; a cron expression's longest gap among
 * its next 8 runs (so "Mondays and Fridays" is 4 days), else the longest gap among the Temporal
 * schedule's next action times; undefined when neither is known.
 */
export function cadenceInterval(c: NonNullable<SecretSpec['cadence']>, now: Date, scheduleTimes: Date[] = []): number | undefined {
  if (c.every !== undefined) return c.every;
  const runs = cronNextRuns(c.cron!, now, 8);
  return (runs && longestGap(runs)) ?? longestGap(scheduleTimes);
}

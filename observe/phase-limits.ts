import type { SecretSpec } from '../config/inventory-schema.js';
import { Phase } from '../workflows/rotation-types.js';

/** Slack on top of a phase's own budget before it counts as stuck: timers fire and tasks get picked up late under load. */
export const STUCK_MARGIN_MS = 5 * 60_000;

/**
 * How long each phase may take before a rotation in it is stuck, from the retry budgets of its
 * activities (workflows/rotation-activities.ts): quick steps (30 s × 5 attempts) and target steps
 * (1 min × 6, backing off to 30 s) end within minutes; revocation retries 10 times over about
 * 15 minutes. Waits are the inventory's own: a consumer's confirmation timeout, the overlap.
 * Past the limit the workflow itself should have moved on (rolled back, failed): if it has not, no
 * worker is serving it or an activity keeps failing.
 */
export function phaseLimitMs(phase: Phase, spec: SecretSpec | undefined): number | null {
  switch (phase) {
    case Phase.PRECHECKS:
    case Phase.STAGING:
    case Phase.PROMOTING:
    case Phase.POST_VALIDATION:
      return 5 * 60_000;
    case Phase.APPLYING:
    case Phase.TESTING:
    case Phase.DISCARDING:
      return 10 * 60_000;
    case Phase.REVOKING:
    case Phase.ROLLING_BACK:
    case Phase.EMERGENCY_CUTOVER:
      return 20 * 60_000;
    case Phase.AWAITING_CONFIRMATION:
      // Consumers confirm in parallel: the slowest allowed one bounds the phase.
      return spec ? Math.max(0, ...spec.consumers.map((c) => c.confirm.timeout)) + STUCK_MARGIN_MS : null;
    case Phase.OVERLAP:
      return spec ? spec.overlap + STUCK_MARGIN_MS : null;
    case Phase.DONE:
      return null;
    default: {
      const unknown: never = phase;
      throw new Error(`no limit known for phase ${String(unknown)}`);
    }
  }
}

/** An audit row of one run, as far as phase timing needs it. */
export interface RunRow {
  step: string;
  outcome: string;
  at: Date;
}

/**
 * When the current phase began, from the run's audit rows (steps append a row when they end, so a
 * phase begins when the row ending the one before it was written). Falls back to the run's latest
 * row, then to the workflow's start, when the row that would tell is missing (a rollback or discard
 * begins at whichever step failed).
 */
export function phaseSince(phase: Phase, rows: readonly RunRow[], startedAt: Date, spec: SecretSpec | undefined): Date {
  const last = (step: string, outcome = 'succeeded') => latestAt(rows, (r) => r.step === step && r.outcome === outcome);
  const postValidated = last('post_validate');
  const begun: Date | undefined = (() => {
    switch (phase) {
      case Phase.PRECHECKS:
        return last('rotation_started', 'started');
      case Phase.STAGING:
        return last('precheck');
      case Phase.APPLYING:
        return last('stage');
      case Phase.TESTING:
        return last('apply');
      case Phase.PROMOTING:
        return last('test');
      case Phase.AWAITING_CONFIRMATION:
        return last('promote');
      case Phase.POST_VALIDATION:
        return latestAt(rows, (r) => r.step === 'confirmation') ?? last('promote');
      case Phase.OVERLAP:
        return postValidated;
      case Phase.REVOKING:
        // The overlap is a timer, which writes no row: revocation begins when it ends.
        return postValidated && spec ? new Date(postValidated.getTime() + spec.overlap) : undefined;
      default:
        return undefined;
    }
  })();
  return begun ?? latestAt(rows, () => true) ?? startedAt;
}

/** The latest time among the rows that match, if any. */
export function latestAt(rows: readonly RunRow[], matches: (r: RunRow) => boolean): Date | undefined {
  return rows.filter(matches).reduce<Date | undefined>((a, r) => (a && a > r.at ? a : r.at), undefined);
}

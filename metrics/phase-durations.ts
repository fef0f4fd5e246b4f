import { latestAt, type RunRow } from '../observe/phase-limits.js';
import { Phase } from '../workflows/rotation-types.js';

export interface PhaseDuration {
  phase: Phase;
  seconds: number;
}

/**
 * How long each phase of one finished rotation run took, from its audit rows. A step's row is
 * written when the step ends, so a phase is measured from the row that ends the phase before it
 * to its own last row (a retried step's last attempt ends it, failed or not). Only phases whose
 * both ends are on record are returned: a rollback's start (when the failure was seen) writes no
 * row, so `rolling_back` is never measured; the overlap is a timer, so it is the inventory's
 * overlap (`overlapMs`), cut short by an earlier revocation, and revoking is what follows it.
 */
export function phaseDurations(rows: readonly RunRow[], overlapMs?: number): PhaseDuration[] {
  const last = (step: string): number | undefined => latestAt(rows, (r) => r.step === step)?.getTime();
  const started = last('rotation_started');
  if (started === undefined) return [];
  const out: PhaseDuration[] = [];
  const measure = (phase: Phase, from: number | undefined, to: number | undefined) => {
    // Rows of one run can come from several workers: a skewed clock must not make a negative duration.
    if (from !== undefined && to !== undefined) out.push({ phase, seconds: Math.max(0, to - from) / 1000 });
  };
  const precheck = last('precheck');
  const stage = last('stage');
  const apply = last('apply');
  const test = last('test');
  const promote = last('promote');
  const postValidate = last('post_validate');
  const revoke = last('revoke');
  measure(Phase.PRECHECKS, started, precheck);
  measure(Phase.STAGING, precheck, stage);
  measure(Phase.APPLYING, stage, apply);
  measure(Phase.TESTING, apply, test);
  measure(Phase.PROMOTING, test, promote);
  if (postValidate !== undefined && promote !== undefined) {
    // Confirmations arrive during the wait; the last one ends it (none: no consumer had to confirm).
    const confirmed = Math.min(postValidate, last('confirmation') ?? promote);
    measure(Phase.AWAITING_CONFIRMATION, promote, confirmed);
    measure(Phase.POST_VALIDATION, confirmed, postValidate);
  }
  if (postValidate !== undefined && revoke !== undefined && overlapMs !== undefined) {
    const overlapEnd = Math.min(revoke, postValidate + overlapMs);
    measure(Phase.OVERLAP, postValidate, overlapEnd);
    measure(Phase.REVOKING, overlapEnd, revoke);
  }
  return out;
}

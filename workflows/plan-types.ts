/** Types shared by rotatePlan, its child rotations and its clients. No runtime imports. */
import type { RotationResult } from './rotation-types.js';

/** The points where every secret of a plan waits for the others (lockstep). */
export const PLAN_GATES = ['prechecked', 'staged', 'promoted', 'confirmed', 'validated'] as const;
export type PlanGate = (typeof PLAN_GATES)[number];

/** Child → plan: "I reached this gate" (ok) or "I failed on the way to it". */
export interface GateReport {
  secretId: string;
  gate: PlanGate;
  ok: boolean;
  reason?: string;
}

/** Plan → child: pass a gate, or abort (roll back or discard, whichever applies). */
export type GateDecision = { kind: 'proceed'; gate: PlanGate } | { kind: 'abort'; reason: string };

export type PlanResult = {
  planId: string;
  outcome: 'rotated' | 'rolled_back' | 'aborted';
  /** The gate at which the plan stopped, when it did. */
  stoppedAt?: PlanGate;
  reason?: string;
  secrets: RotationResult[];
};

export interface PlanStatus {
  planId: string;
  gate: PlanGate | 'finishing';
  reports: GateReport[];
}

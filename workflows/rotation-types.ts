/** Types shared by the rotation workflow, its activities and its clients. No runtime imports. */

import type { ProviderType } from '../activities/providers/schemas.js';

export const Phase = {
  PRECHECKS: 'prechecks',
  STAGING: 'staging',
  APPLYING: 'applying',
  TESTING: 'testing',
  PROMOTING: 'promoting',
  /** An emergency rotation outside a plan: pre-checks through promotion (and retirement, without consumers) in one activity. */
  EMERGENCY_CUTOVER: 'emergency_cutover',
  AWAITING_CONFIRMATION: 'awaiting_confirmation',
  POST_VALIDATION: 'post_validation',
  OVERLAP: 'overlap',
  REVOKING: 'revoking',
  ROLLING_BACK: 'rolling_back',
  DISCARDING: 'discarding',
  DONE: 'done',
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

/**
 * The steps between pre-checks and promotion, in order: the one place this order is written.
 * rotateSecret runs each as its own activity (a plan's gates sit around them); an emergency
 * rotation runs them back to back inside one (activities/rotation/emergency-steps.ts).
 */
export const PREPARE_STEPS = [
  { phase: Phase.STAGING, step: 'stageCredential' },
  { phase: Phase.APPLYING, step: 'applyStaged' },
  { phase: Phase.TESTING, step: 'testStaged' },
] as const;
export type PrepareStep = (typeof PREPARE_STEPS)[number]['step'];

export type ConfirmMode = 'webhook' | 'health' | 'manual' | 'pg-sessions' | 'sessions';

/** The non-secret part of a secret's inventory entry that the workflow needs. */
export interface RotationSpec {
  secretId: string;
  path: string;
  providerType: ProviderType;
  overlapMs: number;
  consumers: { name: string; mode: ConfirmMode; timeoutMs: number }[];
}

export type ConsumerStatus = 'waiting' | 'notified' | 'confirmed' | 'timed_out' | 'failed';

export interface ConsumerState {
  name: string;
  mode: ConfirmMode;
  status: ConsumerStatus;
  confirmedVersion?: number;
  confirmedBy?: string;
  detail?: string;
  /** During a rollback: this consumer had confirmed the new version and must confirm the restored one. */
  restoring?: boolean;
}

/** A staged credential a rollback could not revoke yet: these consumers had moved to it and did not confirm the restored version. */
export interface PendingRevocation {
  version: number;
  consumers: string[];
}

export interface RotationStatus {
  secretId: string;
  rotationId: string;
  phase: Phase;
  emergency: boolean;
  fromVersion?: number;
  toVersion?: number;
  consumers: ConsumerState[];
  /** Emergency rotations only: what did not go to plan after promotion (reported, not rolled back). */
  emergencyNote?: string;
  /**
   * Emergency rotations only: revoking the old version failed and is retried until it is refused
   * (each attempt's failure: the pending activity in `temporal workflow describe`, and audit rows).
   */
  revocationRetrying?: { since: string; firstFailure: string };
}

/** How a rotation ended. Values never appear here: versions and paths only. */
export type RotationResult =
  | { outcome: 'rotated'; secretId: string; fromVersion: number; toVersion: number; consumers: ConsumerState[]; emergencyNote?: string }
  | {
      outcome: 'rolled_back';
      secretId: string;
      fromVersion: number;
      attemptedVersion: number;
      restoredVersion: number;
      failedPhase: Phase;
      reason: string;
      consumers: ConsumerState[];
      /** Set when a consumer still uses the attempted version: it stays valid until that consumer moves back. */
      pendingRevocation?: PendingRevocation;
    }
  | { outcome: 'aborted'; secretId: string; currentVersion?: number; failedPhase: Phase; reason: string }
  | { outcome: 'skipped'; secretId: string; reason: string; runningWorkflowId: string };

export type RotationOutcome = RotationResult['outcome'];

/** References that tie every activity call to one secret and one rotation. */
export interface RotationRef {
  secretId: string;
  /** The workflow run id: names the staged credential's pending location. */
  rotationId: string;
  /** Who asked for this rotation (CLI user, schedule, UI), for the audit log. */
  actor: string;
}

/** What retiring the old version found: post-validation's failure is reported, never thrown. */
export interface RetireResult {
  validationFailure?: string;
}

/** Everything before promotion, done: the spec and the version the staged credential replaces. */
export interface EmergencyPrepareResult {
  spec: RotationSpec;
  fromVersion: number;
}

/** The promoted version, and whether the old one is already retired (only when nobody had to be told). */
/** `validated` when promotion also post-validated, then failed to revoke: the retire step need not validate again. */
export type EmergencyPromoteResult = { promotedVersion: number } & (
  | ({ retired: false; validated?: boolean } & RetireResult)
  | ({ retired: true } & RetireResult)
);

/** emergencyCutover (v1 histories only, see workflows/legacy/): prepare and promote in one activity. */
export type EmergencyCutoverResult = EmergencyPrepareResult & EmergencyPromoteResult;

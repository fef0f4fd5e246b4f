import type { NotificationKind } from './notification-kind.js';

/** What every notification carries: references (ids, versions, times), never a value. */
interface EventBase {
  /** Unique per event across rotor: `audit/<event_key>` for audit rows, `stuck/<workflowId>/<runId>/<phase>` for a stuck phase. */
  id: string;
  secretId: string | null;
  workflowId: string | null;
  runId: string | null;
  /** When it happened (ISO 8601). */
  at: string;
  /** `to`: the version current afterwards; for a rollback, the version it wrote (a copy of `from`'s credential). */
  versions: { from?: number; to?: number };
}

export interface RollbackEvent extends EventBase {
  kind: typeof NotificationKind.ROLLBACK;
  outcome: 'rolled_back';
  reason: string | null;
}
export interface FailureEvent extends EventBase {
  kind: typeof NotificationKind.FAILURE;
  /** The rotation's outcome: aborted, revocation_failed, … */
  outcome: string;
  reason: string | null;
}
export interface StuckEvent extends EventBase {
  kind: typeof NotificationKind.STUCK;
  phase: string;
  phaseSince: string;
  limitMs: number | null;
}
export interface ManualConfirmationEvent extends EventBase {
  kind: typeof NotificationKind.MANUAL_CONFIRMATION_NEEDED;
  /** Consumers that confirm manually (`rotor confirm <secret> <consumer>`). */
  consumers: string[];
}
interface BreakGlassBase extends EventBase {
  requestId: string;
  policyId: string;
}
export interface BreakGlassRequestedEvent extends BreakGlassBase {
  kind: typeof NotificationKind.BREAK_GLASS_REQUESTED;
  requester: string;
  justification: string | null;
  ttlSeconds: number | null;
}
export interface BreakGlassApprovedEvent extends BreakGlassBase {
  kind: typeof NotificationKind.BREAK_GLASS_APPROVED;
  approvals: number;
  required: number;
}
export interface BreakGlassExpiredEvent extends BreakGlassBase {
  kind: typeof NotificationKind.BREAK_GLASS_EXPIRED;
}
export interface IncidentStartedEvent extends EventBase {
  kind: typeof NotificationKind.INCIDENT_STARTED;
  incidentId: string;
  reason: string | null;
  /** Comma-separated secret ids, or "everything". */
  scope: string;
  startedBy: string;
}

export type NotificationEvent =
  | RollbackEvent
  | FailureEvent
  | StuckEvent
  | ManualConfirmationEvent
  | BreakGlassRequestedEvent
  | BreakGlassApprovedEvent
  | BreakGlassExpiredEvent
  | IncidentStartedEvent;

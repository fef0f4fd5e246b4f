import type { Inventory } from '../config/inventory-schema.js';
import type { NotificationEvent } from './notification-event.js';
import { NotificationKind } from './notification-kind.js';

/** An audit_log row as the dispatcher reads it (migrations/001, 004). */
export interface AuditRow {
  seq: number;
  eventKey: string;
  at: Date;
  actor: string;
  workflowId: string | null;
  runId: string | null;
  secretId: string | null;
  step: string;
  outcome: string;
  fromVersion: number | null;
  toVersion: number | null;
  detail: Record<string, unknown>;
}

/**
 * Free text from an audit row (a failure reason, a justification), bounded so a payload stays
 * small. Cut at whole characters: half a surrogate pair is not valid JSON text for PostgreSQL's
 * jsonb, and a row the outbox cannot store would stop the tail.
 */
const MAX_TEXT = 500;
const text = (v: unknown): string | null => (typeof v === 'string' ? Array.from(v).slice(0, MAX_TEXT).join('') : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * The notification an audit row means, if any. Pure: the same row and inventory always give the
 * same event, so a retried tail enqueues the same thing. Only named fields are copied (never the
 * whole detail), and rows about secrets this inventory does not name belong to another deployment
 * (or a removed secret) and notify nothing.
 */
export function eventOfAuditRow(row: AuditRow, inventory: Pick<Inventory, 'secrets'>): NotificationEvent | undefined {
  const secret = row.secretId === null ? undefined : inventory.secrets.find((s) => s.id === row.secretId);
  const base = {
    id: `audit/${row.eventKey}`,
    secretId: row.secretId,
    workflowId: row.workflowId,
    runId: row.runId,
    at: row.at.toISOString(),
    versions: {
      ...(row.fromVersion === null ? {} : { from: row.fromVersion }),
      ...(row.toVersion === null ? {} : { to: row.toVersion }),
    },
  };
  const d = row.detail;

  if (row.step === 'incident_freeze') {
    if (row.outcome !== 'succeeded') return undefined;
    const scope = text(d['scope']) ?? 'everything';
    // A scoped incident about none of our secrets is another deployment's.
    if (scope !== 'everything' && !scope.split(',').some((id) => inventory.secrets.some((s) => s.id === id))) return undefined;
    return {
      ...base,
      kind: NotificationKind.INCIDENT_STARTED,
      incidentId: text(d['incidentId']) ?? '',
      reason: text(d['reason']),
      scope,
      startedBy: row.actor,
    };
  }
  if (!secret) return undefined;

  switch (row.step) {
    case 'rotation_finished': {
      const outcome = text(d['outcome']);
      if (outcome === null || outcome === 'rotated' || outcome === 'skipped') return undefined;
      if (outcome === 'rolled_back') return { ...base, kind: NotificationKind.ROLLBACK, outcome, reason: text(d['reason']) };
      return { ...base, kind: NotificationKind.FAILURE, outcome, reason: text(d['reason']) };
    }
    case 'promote': {
      if (row.outcome !== 'succeeded') return undefined;
      const consumers = secret.consumers.filter((c) => c.confirm.mode === 'manual').map((c) => c.name);
      if (!consumers.length) return undefined;
      return { ...base, kind: NotificationKind.MANUAL_CONFIRMATION_NEEDED, consumers };
    }
    case 'break_glass_request': {
      // audited() writes the step's success; the request's own outcome is in the detail (started or refused).
      if (row.outcome !== 'succeeded' || d['outcome'] !== 'started') return undefined;
      return {
        ...base,
        kind: NotificationKind.BREAK_GLASS_REQUESTED,
        requestId: text(d['requestId']) ?? '',
        policyId: text(d['policyId']) ?? '',
        requester: row.actor,
        justification: text(d['justification']),
        ttlSeconds: num(d['ttlSeconds']),
      };
    }
    case 'break_glass_approved': {
      const approvals = num(d['approvals']);
      const required = num(d['required']);
      // One row per approval: the request is approved by the one that reaches the policy's number.
      if (row.outcome !== 'succeeded' || approvals === null || required === null || approvals < required) return undefined;
      return {
        ...base,
        kind: NotificationKind.BREAK_GLASS_APPROVED,
        requestId: text(d['requestId']) ?? '',
        policyId: text(d['policyId']) ?? '',
        approvals,
        required,
      };
    }
    case 'break_glass_expired':
      if (row.outcome !== 'succeeded') return undefined;
      return {
        ...base,
        kind: NotificationKind.BREAK_GLASS_EXPIRED,
        requestId: text(d['requestId']) ?? '',
        policyId: text(d['policyId']) ?? '',
      };
    default:
      return undefined;
  }
}

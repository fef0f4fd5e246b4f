import { Context } from '@temporalio/activity';
import type { RotationRef } from '../../workflows/rotation-types.js';
import type { ActivityContext } from '../activity-context.js';
import { appendAudit } from '../audit/append-audit.js';
import type { AuditDetail, AuditOutcome } from '../audit/audit-entry.js';

export interface RotationEvent extends RotationRef {
  step: 'rotation_started' | 'rotation_finished' | 'confirmation' | 'revocation_retrying' | 'revocation_ended_by_person';
  outcome: AuditOutcome;
  fromVersion?: number;
  toVersion?: number;
  detail?: AuditDetail;
}

/** Appends one workflow-level audit row for `event`; idempotent per event id. */
export async function appendRotationEvent(ctx: ActivityContext, event: RotationEvent & { eventId: string }): Promise<void> {
  const { workflowId, runId } = Context.current().info.workflowExecution ?? { workflowId: 'standalone', runId: event.rotationId };
  await appendAudit(ctx.db, {
    eventKey: `${workflowId}/${runId}/event/${event.eventId}`,
    actor: event.actor,
    workflowId,
    runId,
    secretId: event.secretId,
    step: event.step,
    outcome: event.outcome,
    fromVersion: event.fromVersion,
    toVersion: event.toVersion,
    detail: event.detail,
  });
}

export function rotationEventActivities(ctx: ActivityContext) {
  return {
    /** Workflow-level audit rows (start, end, confirmations); references only, idempotent per event. */
    async recordRotationEvent(event: RotationEvent & { eventId: string }): Promise<void> {
      await appendRotationEvent(ctx, event);
    },
  };
}

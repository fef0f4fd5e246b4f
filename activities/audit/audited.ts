import { Context } from '@temporalio/activity';
import type { ActivityContext } from '../activity-context.js';
import { failpoint } from '../failpoint.js';
import { toFailure } from '../rotation/to-failure.js';
import { appendAudit } from './append-audit.js';
import type { AuditDetail } from './audit-entry.js';

/** Well inside the activities' heartbeat timeout (workflows/rotation-activities.ts). */
const HEARTBEAT_EVERY_MS = 2_000;

export interface AuditScope {
  step: string;
  secretId?: string;
  actor: string;
  fromVersion?: number;
  toVersion?: number;
}

/**
 * Runs an activity body and appends one audit row for how it ended. The event key makes a
 * retried attempt's success land once; each failed attempt is its own row. Failures leave as
 * typed Temporal failures (see toFailure): a refused credential or a CAS miss is not retried.
 */
export async function audited<T>(
  ctx: ActivityContext,
  scope: AuditScope,
  body: () => Promise<T>,
  describe?: (result: T) => Partial<AuditScope> & { detail?: AuditDetail },
): Promise<T> {
  const info = Context.current().info;
  // Standalone activities have no workflow; rotor only runs activities from workflows.
  const workflowId = info.workflowExecution?.workflowId ?? 'standalone';
  const runId = info.workflowExecution?.runId ?? info.activityId;
  const base = `${workflowId}/${runId}/${info.activityId}/${scope.step}`;
  // Every log line carries the workflow and rotation ids; values never reach here, only references.
  const log = ctx.logger.child({ workflowId, runId, secretId: scope.secretId, step: scope.step, attempt: info.attempt });
  // A worker that dies mid-step is noticed within the heartbeat timeout, not the start-to-close.
  const beat = info.isLocal ? undefined : setInterval(() => Context.current().heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    await failpoint(`${scope.step}.start`);
    const result = await body();
    await failpoint(`${scope.step}.done`);
    const extra = describe?.(result) ?? {};
    log.info(
      { outcome: 'succeeded', fromVersion: extra.fromVersion ?? scope.fromVersion, toVersion: extra.toVersion ?? scope.toVersion },
      `${scope.step} succeeded`,
    );
    await appendAudit(ctx.db, {
      eventKey: `${base}/succeeded`,
      actor: scope.actor,
      workflowId,
      runId,
      secretId: scope.secretId,
      step: scope.step,
      outcome: 'succeeded',
      fromVersion: extra.fromVersion ?? scope.fromVersion,
      toVersion: extra.toVersion ?? scope.toVersion,
      detail: extra.detail,
    });
    return result;
  } catch (raw) {
    const err = toFailure(raw);
    log.warn({ outcome: 'failed', error: (err as Error).message }, `${scope.step} failed`);
    await appendAudit(ctx.db, {
      eventKey: `${base}/failed/${info.attempt}`,
      actor: scope.actor,
      workflowId,
      runId,
      secretId: scope.secretId,
      step: scope.step,
      outcome: 'failed',
      fromVersion: scope.fromVersion,
      toVersion: scope.toVersion,
      detail: { error: (err as Error).message?.slice(0, 500) ?? String(err), attempt: info.attempt },
    }).catch((auditErr: unknown) => ctx.logger.error({ err: (auditErr as Error).message, step: scope.step }, 'audit append failed'));
    throw err;
  } finally {
    clearInterval(beat);
  }
}

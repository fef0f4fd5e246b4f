import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { BreakGlassResult } from '../../workflows/break-glass-types.js';
import { SECRET_ID } from '../../workflows/search-attributes.js';
import type { IncidentReport, IncidentScope, LeaseReport, ScopePlan } from '../../workflows/incident-types.js';
import type { ActivityContext } from '../activity-context.js';
import { appendAudit } from '../audit/append-audit.js';
import { AuditOutcome, type AuditEntry } from '../audit/audit-entry.js';
import { audited } from '../audit/audited.js';
import * as freezeStore from './freeze-store.js';
import { FailureType } from '../../workflows/failure-types.js';

export function incidentActivities(ctx: ActivityContext) {
  return {
    /** Exactly what an incident response would touch. Unknown ids and tags that match nothing are errors. */
    async resolveIncidentScope(scope: IncidentScope): Promise<ScopePlan> {
      const inventory = await ctx.inventory.current();
      const known = new Set(inventory.secrets.map((s) => s.id));
      const unknown = scope.secretIds.filter((id) => !known.has(id));
      if (unknown.length)
        throw ApplicationFailure.nonRetryable(
          `scope.secretIds: unknown secret(s) ${unknown.join(', ')}; known: ${[...known].join(', ')}`,
          FailureType.InvalidScope,
        );
      const emptyTags = scope.tags.filter((t) => !inventory.secrets.some((s) => s.tags.includes(t)));
      if (emptyTags.length)
        throw ApplicationFailure.nonRetryable(`scope.tags: no secret is tagged ${emptyTags.join(', ')}`, FailureType.InvalidScope);
      const secrets = inventory.secrets
        .filter((s) => scope.secretIds.includes(s.id) || s.tags.some((t) => scope.tags.includes(t)))
        .map((s) => s.id);
      const leasePrefixes = await Promise.all(
        scope.leasePrefixes.map(async (prefix) => ({ prefix, leases: (await ctx.vault.run((v) => v.listLeases(prefix))).length })),
      );
      // Open break-glass grants on a secret in scope, or whose leases a prefix covers, are ended too.
      const grants: ScopePlan['grants'] = [];
      for await (const w of ctx.temporal.workflow.list({ query: 'WorkflowType = "breakGlass" AND ExecutionStatus = "Running"' })) {
        const secretId = w.typedSearchAttributes.get(SECRET_ID);
        if (!secretId) continue;
        if (secrets.includes(secretId) || scope.leasePrefixes.some((p) => 'database/creds/breakglass-'.startsWith(p)))
          grants.push({ workflowId: w.workflowId, secretId });
      }
      return { secrets, leasePrefixes, grants };
    },

    /** Whether `incidentId` is a real incident whose freeze is active: what makes endForIncident more than a claim. */
    async incidentFreezeOf({ incidentId }: { incidentId: string; secretId: string }): Promise<{ active: boolean }> {
      return { active: (await freezeStore.activeFreezes(ctx.db)).some((f) => f.incidentId === incidentId) };
    },

    /** Vault identity groups whose members may start incident response and lift its freeze (inventory). */
    async incidentResponderGroups(): Promise<string[]> {
      return (await ctx.inventory.current()).incident.responderGroups;
    },

    async startFreeze(ref: { incidentId: string; reason: string; actor: string; secretIds: string[] | null }): Promise<void> {
      await audited(
        ctx,
        { step: 'incident_freeze', actor: ref.actor },
        async () => {
          await freezeStore.startFreeze(ctx.db, {
            incidentId: ref.incidentId,
            reason: ref.reason,
            startedBy: ref.actor,
            secretIds: ref.secretIds,
          });
        },
        () => ({
          detail: { incidentId: ref.incidentId, reason: ref.reason, scope: ref.secretIds ? ref.secretIds.join(',') : 'everything' },
        }),
      );
    },

    /**
     * A separate, audited act, refused to whoever started the incident unless `allowSelf`.
     * Idempotent for its lifter: a freeze `by` already lifted (this step's earlier attempt, whose
     * worker died before reporting, or the same person asking again) is success with the same
     * result, and `audited` writes the step's success row once. Lifted by someone else: AlreadyLifted.
     */
    async liftFreeze(ref: { incidentId: string; by: string }): Promise<{ startedBy: string }> {
      return audited(
        ctx,
        { step: 'incident_unfreeze', actor: ref.by },
        async () => {
          const allowSelf = (await ctx.inventory.current()).incident.allowSelfUnfreeze;
          const freeze = await freezeStore.freezeState(ctx.db, ref.incidentId);
          if (!freeze) throw ApplicationFailure.nonRetryable(`no freeze for incident ${ref.incidentId}`, FailureType.UnknownIncident);
          const alreadyLifted = (liftedBy: string | null, liftedAt: Date) =>
            ApplicationFailure.nonRetryable(
              `the freeze of ${ref.incidentId} was already lifted by ${liftedBy ?? 'someone'} at ${liftedAt.toISOString()}`,
              FailureType.AlreadyLifted,
            );
          // Lifted by `by`: the policy was checked when it was lifted; report that lift again.
          if (freeze.liftedAt && freeze.liftedBy === ref.by) return { startedBy: freeze.startedBy, liftedAt: freeze.liftedAt };
          if (freeze.liftedAt) throw alreadyLifted(freeze.liftedBy, freeze.liftedAt);
          if (freeze.startedBy === ref.by && !allowSelf) {
            throw ApplicationFailure.nonRetryable(
              `${ref.by} started incident ${ref.incidentId} and may not lift its freeze; a second person must (policy: incident.allowSelfUnfreeze)`,
              FailureType.SelfUnfreeze,
            );
          }
          const lifted = await freezeStore.liftFreeze(ctx.db, ref.incidentId, ref.by);
          if (!lifted) throw ApplicationFailure.nonRetryable(`no freeze for incident ${ref.incidentId}`, FailureType.UnknownIncident);
          if (lifted.liftedBy !== ref.by) throw alreadyLifted(lifted.liftedBy, lifted.liftedAt); // someone else, concurrently
          return { startedBy: freeze.startedBy, liftedAt: lifted.liftedAt };
        },
        // liftedAt tells a repeat of one lift from a second lift in the audit log.
        ({ liftedAt }) => ({ detail: { incidentId: ref.incidentId, liftedAt: liftedAt.toISOString() } }),
      ).then(({ startedBy }) => ({ startedBy }));
    },

    /** Revokes every lease under the prefix synchronously, then proves none is left. */
    async revokeLeasePrefix(ref: { incidentId: string; prefix: string; force: boolean; actor: string }): Promise<LeaseReport> {
      return audited(
        ctx,
        { step: 'incident_revoke_leases', actor: ref.actor },
        async () => {
          const started = Date.now();
          const before = (await ctx.vault.run((v) => v.listLeases(ref.prefix))).length;
          let forced = false;
          try {
            await ctx.vault.run((v) => v.revokePrefix(ref.prefix));
          } catch (err) {
            if (!ref.force) throw err;
            // The backend refused to revoke: force removes the leases from Vault, the target may still hold them.
            await ctx.vault.run((v) => v.revokePrefix(ref.prefix, true));
            forced = true;
          }
          const left = (await ctx.vault.run((v) => v.listLeases(ref.prefix))).length;
          if (left > 0)
            throw ApplicationFailure.retryable(
              `${left} lease(s) still under ${ref.prefix} after revocation`,
              FailureType.RevocationNotVerified,
            );
          return {
            prefix: ref.prefix,
            status: 'done' as const,
            leasesBefore: before,
            forced,
            verified: true,
            durationMs: Date.now() - started,
          };
        },
        (r) => ({ detail: { incidentId: ref.incidentId, prefix: ref.prefix, leasesBefore: r.leasesBefore, forced: r.forced } }),
      );
    },

    /**
     * Ends a break-glass grant through its own workflow, which revokes and verifies at the target.
     * A retried step whose earlier attempt ended the grant (its worker died before reporting) finds
     * that workflow closed, as does one whose grant ended on its own meanwhile: its result says how
     * the grant ended, the same as the first attempt saw, and `audited` writes the success row once.
     */
    async endBreakGlassGrant(ref: { incidentId: string; workflowId: string; actor: string }): Promise<{ outcome: string }> {
      return audited(
        ctx,
        { step: 'incident_end_break_glass', actor: ref.actor },
        async () => {
          const handle = ctx.temporal.workflow.getHandle(ref.workflowId);
          try {
            await handle.executeUpdate('endForIncident', { args: [{ incidentId: ref.incidentId }] });
          } catch (err) {
            const closed = await handle.describe().then(
              (d) => d.status.name !== 'RUNNING',
              () => false,
            );
            if (!closed) throw err;
          }
          // `audited` heartbeats while this waits for the grant's workflow to close.
          return { outcome: ((await handle.result()) as BreakGlassResult).outcome };
        },
        (r) => ({ detail: { incidentId: ref.incidentId, grantWorkflow: ref.workflowId, outcome: r.outcome } }),
      );
    },

    /**
     * The report goes into the audit log: one row per item, then the summary. Queued together so
     * they commit in one group (see appendAudit), not a transaction per secret.
     */
    async recordIncidentReport(report: IncidentReport): Promise<void> {
      const { workflowId, runId } = Context.current().info.workflowExecution ?? { workflowId: 'standalone', runId: report.incidentId };
      const base = { actor: report.requestedBy, workflowId, runId };
      const key = (item: string) => `${workflowId}/${runId}/report/${item}`;
      const outcome = (failed: boolean) => (failed ? AuditOutcome.FAILED : AuditOutcome.SUCCEEDED);
      const rows: AuditEntry[] = [
        ...report.secrets.map((s) => ({
          ...base,
          eventKey: key(`secret/${s.secretId}`),
          secretId: s.secretId,
          step: 'incident_rotate',
          outcome: outcome(s.status !== 'done'),
          fromVersion: s.fromVersion,
          toVersion: s.toVersion,
          detail: { incidentId: report.incidentId, outcome: s.outcome ?? null, durationMs: s.durationMs ?? null, reason: s.reason ?? null },
        })),
        ...report.leases.map((l) => ({
          ...base,
          eventKey: key(`lease/${l.prefix}`),
          step: 'incident_leases',
          outcome: outcome(l.status !== 'done'),
          detail: {
            incidentId: report.incidentId,
            prefix: l.prefix,
            leasesBefore: l.leasesBefore,
            forced: l.forced,
            reason: l.reason ?? null,
          },
        })),
        ...report.grants.map((g) => ({
          ...base,
          eventKey: key(`grant/${g.workflowId}`),
          secretId: g.secretId,
          step: 'incident_end_grant',
          outcome: outcome(g.status !== 'done'),
          detail: { incidentId: report.incidentId, grantWorkflow: g.workflowId, reason: g.reason ?? null },
        })),
        {
          ...base,
          eventKey: key('summary'),
          step: 'incident_report',
          outcome: outcome(report.summary.failed > 0),
          detail: { incidentId: report.incidentId, done: report.summary.done, failed: report.summary.failed, dryRun: report.dryRun },
        },
      ];
      await Promise.all(rows.map((row) => appendAudit(ctx.db, row)));
    },
  };
}

import {
  ApplicationFailure,
  condition,
  getExternalWorkflowHandle,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities/index.js';
import { describeIssues, revokeAllInput, unfreezeInput, type RevokeAllInput, type UnfreezeInput } from '../config/workflow-inputs.js';
import { failureMessage } from './failure-message.js';
import type { IncidentReport, SecretReport } from './incident-types.js';
import { incidentProgressQuery, incidentReportQuery, incidentWorkflowId, rotationWorkflowId } from './contracts.js';
import { emergencyRotate } from './emergency-rotate.js';
import { FailureType } from './failure-types.js';
import { Patch } from './patches.js';
import { rotateSecret } from './rotate-secret.js';
import { quick, revocation } from './rotation-activities.js';
import { Phase } from './rotation-types.js';
import { PHASE, SECRET_ID } from './search-attributes.js';
import { proveIdentity, requireGroup } from './verified-identity.js';

const grants = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

/**
 * Incident response: freeze, revoke every lease under the given prefixes, end break-glass grants,
 * and emergency-rotate every secret in scope (bounded concurrency, no overlap, old credential
 * revoked and its sessions ended). Failures are reported, never stop the rest. A dry run lists
 * exactly what would happen and changes nothing. Lifting the freeze is `unfreeze`, separately.
 */
export async function revokeAll(raw: RevokeAllInput): Promise<IncidentReport> {
  const parsed = revokeAllInput.safeParse(raw ?? {});
  if (!parsed.success)
    throw ApplicationFailure.nonRetryable(`invalid revokeAll input: ${describeIssues(parsed.error)}`, FailureType.InvalidInput);
  const input = parsed.data;
  // Its children may run in emergency mode because their parent is incident/<id>: a revokeAll
  // under any other id would freeze and revoke, then see every emergency rotation refused. A dry
  // run starts no children and may run under any id.
  const expectedId = incidentWorkflowId(input.incidentId);
  if (!input.dryRun && workflowInfo().workflowId !== expectedId && patched(Patch.EMERGENCY_FROM_INCIDENT_ONLY))
    throw ApplicationFailure.nonRetryable(
      `revokeAll for ${input.incidentId} must run as workflow ${expectedId} (rotor incident revoke-all does)`,
      FailureType.InvalidInput,
    );
  // Only a verified incident responder may freeze everything and revoke at will (earlier
  // histories trusted requestedBy as declared).
  let requestedBy = input.requestedBy ?? '';
  if (patched(Patch.VERIFIED_IDENTITY)) {
    const who = await proveIdentity(input.identity, `start incident response ${input.incidentId}${input.dryRun ? ' (dry run)' : ''}`);
    requireGroup(who, await quick.incidentResponderGroups(), `start incident response (revokeAll ${input.incidentId})`);
    requestedBy = who.name;
  }
  const actor = `${requestedBy} (incident ${input.incidentId})`;
  const plan = await quick.resolveIncidentScope(input.scope);

  const report: IncidentReport = {
    incidentId: input.incidentId,
    reason: input.reason,
    requestedBy,
    dryRun: input.dryRun,
    startedAt: new Date().toISOString(),
    frozen: false,
    secrets: plan.secrets.map((secretId) => ({ secretId, status: 'planned' })),
    leases: plan.leasePrefixes.map((l) => ({ prefix: l.prefix, status: 'planned', leasesBefore: l.leases, forced: false })),
    grants: plan.grants.map((g) => ({ ...g, status: 'planned' })),
    summary: { done: 0, failed: 0, planned: 0 },
  };
  const items = () => [...report.secrets, ...report.leases, ...report.grants];
  const summarize = () => {
    const all = items();
    report.summary = {
      done: all.filter((i) => i.status === 'done').length,
      failed: all.filter((i) => i.status === 'failed').length,
      planned: all.filter((i) => i.status === 'planned').length,
    };
  };
  setHandler(incidentReportQuery, () => (summarize(), report));
  setHandler(incidentProgressQuery, () => {
    summarize();
    return { total: items().length, done: report.summary.done, failed: report.summary.failed, remaining: report.summary.planned };
  });
  if (input.dryRun) {
    summarize();
    return report;
  }

  // 1. Freeze first: no new grants, no ordinary rotations, until a person lifts it.
  await quick.startFreeze({
    incidentId: input.incidentId,
    reason: input.reason,
    actor: requestedBy,
    secretIds: input.freeze === 'in-scope' ? plan.secrets : null,
  });
  report.frozen = true;

  // 2. Leases and break-glass grants: cut access before anything else.
  for (const lease of report.leases) {
    try {
      Object.assign(
        lease,
        await revocation.revokeLeasePrefix({ incidentId: input.incidentId, prefix: lease.prefix, force: input.forceLeases, actor }),
      );
    } catch (err) {
      Object.assign(lease, { status: 'failed', reason: failureMessage(err) });
    }
  }
  await Promise.all(
    report.grants.map(async (grant) => {
      try {
        const { outcome } = await grants.endBreakGlassGrant({ incidentId: input.incidentId, workflowId: grant.workflowId, actor });
        Object.assign(grant, { status: 'done', reason: `break-glass ${outcome}` });
      } catch (err) {
        Object.assign(grant, { status: 'failed', reason: failureMessage(err) });
      }
    }),
  );

  // 3. Emergency-rotate every secret in scope, at most `concurrency` at a time (sliding window).
  const rotateOne = async (item: SecretReport) => {
    const started = Date.now();
    item.startedAt = new Date(started).toISOString();
    try {
      const options = {
        workflowId: rotationWorkflowId(item.secretId),
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        typedSearchAttributes: [
          { key: SECRET_ID, value: item.secretId },
          { key: PHASE, value: Phase.PRECHECKS },
        ],
      };
      const args = { secretId: item.secretId, requestedBy: actor, reason: input.reason };
      const start = () =>
        patched(Patch.EMERGENCY_ROTATE_WORKFLOW)
          ? startChild(emergencyRotate, { ...options, args: [args] })
          : startChild(rotateSecret, { ...options, args: [{ ...args, emergency: true }] });
      const child = await start().catch((err: unknown) => {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError) || !patched(Patch.PREEMPT_RUNNING_ROTATION)) throw err;
        return preempt(item, start);
      });
      const result = await child.result();
      item.outcome = result.outcome;
      if (result.outcome === 'rotated')
        Object.assign(item, { status: 'done', fromVersion: result.fromVersion, toVersion: result.toVersion, reason: result.emergencyNote });
      else Object.assign(item, { status: 'failed', reason: result.reason });
    } catch (err) {
      Object.assign(item, { status: 'failed', reason: failureMessage(err) });
    }
    item.durationMs = Date.now() - started;
  };
  // Children are started in waves of a quarter of the window: the "started" events of a wave then
  // reach this workflow in one or two workflow tasks instead of one each (bench/revoke-all.ts).
  let running = 0;
  const pending: Promise<void>[] = [];
  const wave = Math.max(1, Math.floor(input.concurrency / 4));
  for (let next = 0; next < report.secrets.length; next += wave) {
    const items = report.secrets.slice(next, next + wave);
    await condition(() => running + items.length <= input.concurrency);
    for (const item of items) {
      running++;
      pending.push(rotateOne(item).finally(() => running--));
    }
  }
  await Promise.all(pending);

  // 4. The report: the result, the query, and the audit log.
  report.finishedAt = new Date().toISOString();
  summarize();
  await grants.recordIncidentReport(report);
  return report;
}

/** How long revokeAll waits for a pre-empted rotation to close (it discards or rolls back first). */
const PREEMPT_WAIT_MS = 120_000;

/**
 * A rotation of the secret is already running (waiting in its overlap or for a person): cancel it,
 * which makes it discard its staged credential, roll back, or (in its overlap) revoke the old
 * version at once, then start the emergency rotation as soon as its id is free.
 */
async function preempt<T>(item: SecretReport, start: () => Promise<T>): Promise<T> {
  const running = rotationWorkflowId(item.secretId);
  item.preempted = running;
  // It may have closed since the start was refused: then there is nothing to cancel.
  await getExternalWorkflowHandle(running)
    .cancel()
    .catch(() => undefined);
  const deadline = Date.now() + PREEMPT_WAIT_MS;
  for (;;) {
    await sleep('1 second');
    try {
      return await start();
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      if (Date.now() > deadline)
        throw new Error(`the running rotation ${running} did not close within ${PREEMPT_WAIT_MS / 1000}s of being cancelled`);
    }
  }
}

/**
 * Lifts an incident freeze: a separate, audited act by a verified incident responder other than
 * who started it (unless the inventory allows self-unfreeze).
 */
export async function unfreeze(raw: UnfreezeInput): Promise<{ incidentId: string; liftedBy: string }> {
  const parsed = unfreezeInput.safeParse({ incidentId: raw?.incidentId, by: raw?.by, identity: raw?.identity });
  if (!parsed.success)
    throw ApplicationFailure.nonRetryable(`invalid unfreeze input: ${describeIssues(parsed.error)}`, FailureType.InvalidInput);
  let by = parsed.data.by ?? '';
  if (patched(Patch.VERIFIED_IDENTITY)) {
    const who = await proveIdentity(parsed.data.identity, `lift the freeze of incident ${parsed.data.incidentId}`);
    requireGroup(who, await quick.incidentResponderGroups(), `lift the freeze of incident ${parsed.data.incidentId}`);
    by = who.name;
  }
  await quick.liftFreeze({ incidentId: parsed.data.incidentId, by });
  return { incidentId: parsed.data.incidentId, liftedBy: by };
}

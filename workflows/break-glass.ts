import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  executeChild,
  patched,
  setHandler,
  upsertSearchAttributes,
  uuid4,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { parseDuration } from '../config/duration.js';
import {
  approvalInput,
  breakGlassRequestInput,
  IDENTITY_REQUIRED,
  denialInput,
  describeIssues,
  revokeGrantInput,
  type BreakGlassRequestInput,
} from '../config/workflow-inputs.js';
import {
  BreakGlassPhase,
  type BreakGlassPolicySpec,
  type BreakGlassResult,
  type BreakGlassStatus,
  type Decision,
} from './break-glass-types.js';
import { failureMessage } from './failure-message.js';
import { approveUpdate, breakGlassStatusQuery, denyUpdate, endForIncidentUpdate, revokeUpdate, rotationWorkflowId } from './contracts.js';
import { rotateSecret } from './rotate-secret.js';
import { quick, revocation, target } from './rotation-activities.js';
import { OUTCOME, PHASE, SECRET_ID } from './search-attributes.js';
import { FailureType } from './failure-types.js';
import { Patch } from './patches.js';
import { ArrivalOrderV1 } from './legacy/grant-race-v1.js';
import { proveIdentity, requireGroup, type VerifiedIdentity } from './verified-identity.js';
import type { AuditDetail, AuditOutcome } from '../activities/audit/audit-entry.js';

const refuse = (message: string, type: FailureType) => ApplicationFailure.nonRetryable(message, type);

/**
 * Emergency access: a request with a justification and a TTL; distinct approvers from the
 * policy's identity groups (never the requester) approve or deny through updates; no decision in
 * time denies. Every party proves who they are with a Vault identity token the worker verifies.
 * On approval a short-lived database role is issued by Vault and delivered where only the
 * requester's Vault identity can read it; it is revoked at TTL or on demand, verified gone at
 * PostgreSQL, and the touched secret is rotated afterwards when the policy says so.
 */
export async function breakGlass(rawInput: BreakGlassRequestInput): Promise<BreakGlassResult> {
  const parsed = breakGlassRequestInput.safeParse(rawInput ?? {});
  if (!parsed.success) throw refuse(`invalid breakGlass input: ${describeIssues(parsed.error)}`, FailureType.InvalidInput);
  const input = parsed.data;
  // Names the Vault role and lease path of this grant; deterministic (uuid4 is replay-safe).
  const requestId = uuid4().replace(/-/g, '').slice(0, 16);
  const ttlMs = parseDuration(input.ttl)!;
  // Earlier histories trusted the declared requester and approver names (see Patch.VERIFIED_IDENTITY).
  const verifiedRequest = patched(Patch.VERIFIED_IDENTITY);
  let requester: VerifiedIdentity | undefined;
  // Handlers are registered before the first await, so an early update is not rejected as unknown.
  let policy: BreakGlassPolicySpec = {
    policyId: input.policyId,
    secretId: '',
    requesters: [],
    approvers: [],
    requesterGroups: [],
    approverGroups: [],
    approvals: Infinity,
    maxTtlMs: 0,
    approvalTimeoutMs: 0,
    rotateAfter: false,
  };
  const ref = { requestId, policyId: input.policyId, secretId: '' };
  // When each decision's audit row was written. A decision is answered in that order; in a history
  // written before Patch.DECISIONS_ANSWERED_BEFORE_GRANT the freeze check before a grant takes its
  // place in the same order (workflows/legacy/grant-race-v1.ts). Issues no command.
  const arrivals = new ArrivalOrderV1();
  const event = (step: string, actor: string, outcome: AuditOutcome, detail: AuditDetail = {}, key?: string) =>
    CancellationScope.nonCancellable(() => {
      const written = quick.recordBreakGlassEvent({ ...ref, actor, step, outcome, detail, eventId: uuid4() });
      return key === undefined ? written : arrivals.arrival(key, written);
    });
  let decisions = 0;
  /** A decision's audit row, then its turn to be answered. */
  const recordDecision = async (step: string, actor: string, outcome: AuditOutcome, detail: AuditDetail) => {
    const key = `decision:${++decisions}`;
    try {
      await event(step, actor, outcome, detail, key);
      await arrivals.turn(key);
    } finally {
      arrivals.done(key);
    }
  };
  const status: BreakGlassStatus = {
    requestId,
    policyId: input.policyId,
    requester: input.requester ?? '',
    phase: BreakGlassPhase.AWAITING_APPROVAL,
    open: false,
    approvals: [],
  };
  const setPhase = (phase: BreakGlassPhase) => {
    status.phase = phase;
    upsertSearchAttributes([{ key: PHASE, value: `break_glass:${phase}` }]);
  };
  const end = async (result: BreakGlassResult): Promise<BreakGlassResult> => {
    // A decision's handler is still writing its audit row: let it finish before the run closes.
    await condition(allHandlersFinished);
    status.open = false;
    setPhase(BreakGlassPhase.DONE);
    upsertSearchAttributes([{ key: OUTCOME, value: `break_glass:${result.outcome}` }]);
    return result;
  };

  setHandler(breakGlassStatusQuery, () => status);
  const decided = () => status.denial !== undefined || status.approvals.length >= policy.approvals;
  /** Expired or refused: a decision still being verified must not land after the request ended. */
  let closed = false;
  /** What a validator can check before the decider is known: the request is open and undecided. */
  const validateOpen = () => {
    if (closed) throw refuse(`request ${requestId} is closed (${status.phase})`, FailureType.AlreadyDecided);
    if (!status.open)
      throw refuse(`request ${requestId} is not open for decisions yet (it is being set up); try again in a moment`, FailureType.NotReady);
    if (decided() || status.phase !== BreakGlassPhase.AWAITING_APPROVAL)
      throw refuse(`request ${requestId} is already decided (${status.denial ? 'denied' : status.phase})`, FailureType.AlreadyDecided);
  };
  const isRequester = (who: VerifiedIdentity) => (requester ? requester.entityId === who.entityId : who.name === status.requester);
  /** The policy's approver groups; a policy loaded before groups existed (a run from then) lists names. */
  const requireApprover = (who: VerifiedIdentity, forWhat: string) => {
    if (policy.approverGroups?.length) requireGroup(who, policy.approverGroups, forWhat);
    else if (!policy.approvers.includes(who.name))
      throw refuse(`${who.name} may not ${forWhat}: not an approver (${policy.approvers.join(', ')})`, FailureType.NotAnApprover);
  };
  /** After the decider's identity is verified: the request may have been decided meanwhile. */
  const checkDecider = (who: VerifiedIdentity) => {
    validateOpen();
    if (isRequester(who)) throw refuse(`${who.name} requested this access and cannot decide on it`, FailureType.SelfApproval);
    requireApprover(who, `decide on requests under ${policy.policyId}`);
    if (status.approvals.some((a) => (a.entityId ?? a.approver) === who.entityId || a.approver === who.name))
      throw refuse(`${who.name} already approved this request; approvals must come from distinct people`, FailureType.DuplicateApproval);
  };
  const decider = async (identity: string | undefined, declared: string | undefined, what: string): Promise<VerifiedIdentity> => {
    // Earlier histories: the validator checked the declared name, and replay runs no validator.
    if (!patched(Patch.VERIFIED_IDENTITY)) return { entityId: declared!, name: declared!, groups: [] };
    // A request made before identities were verified names a requester nobody proved: deciding on
    // it now could let its real sender approve their own access.
    if (!requester && what === 'approve')
      throw refuse(
        `request ${requestId} was made before requesters proved who they are: it can only be denied; request again`,
        FailureType.NotAllowed,
      );
    const who = await proveIdentity(identity, `${what} break-glass request ${requestId}`, ref.secretId || undefined);
    checkDecider(who);
    return who;
  };
  setHandler(
    approveUpdate,
    async (d) => {
      const who = await decider(d.identity, d.approver, 'approve');
      status.approvals.push({ approver: who.name, entityId: who.entityId, ...(d.comment ? { comment: d.comment } : {}) });
      await recordDecision('break_glass_approved', who.name, 'succeeded', {
        approvals: status.approvals.length,
        required: policy.approvals,
      });
      return status;
    },
    {
      validator: (raw) => {
        const d = approvalInput.safeParse(raw);
        if (!d.success) throw refuse(`invalid approval: ${describeIssues(d.error)}`, FailureType.InvalidInput);
        if (!d.data.identity) throw refuse(IDENTITY_REQUIRED, FailureType.IdentityRefused);
        validateOpen();
      },
    },
  );
  setHandler(
    denyUpdate,
    async (d) => {
      const who = await decider(d.identity, d.approver, 'deny');
      status.denial = { approver: who.name, comment: d.comment };
      await recordDecision('break_glass_denied', who.name, 'refused', { reason: d.comment });
      return status;
    },
    {
      validator: (raw) => {
        const d = denialInput.safeParse(raw);
        if (!d.success) throw refuse(`invalid denial: ${describeIssues(d.error)}`, FailureType.InvalidInput);
        if (!d.data.identity) throw refuse(IDENTITY_REQUIRED, FailureType.IdentityRefused);
        validateOpen();
      },
    },
  );
  const grantActive = () => {
    if (status.phase !== BreakGlassPhase.GRANTED || status.revokedBy)
      throw refuse(`request ${requestId} has no active grant (phase ${status.phase})`, FailureType.NoActiveGrant);
  };
  setHandler(
    revokeUpdate,
    async (r) => {
      if (!patched(Patch.VERIFIED_IDENTITY)) {
        status.revokedBy = r.by;
        return status;
      }
      const who = await proveIdentity(r.identity, `revoke break-glass grant ${requestId}`, ref.secretId);
      grantActive();
      if (!isRequester(who)) requireApprover(who, 'revoke this grant (only the requester or an approver)');
      status.revokedBy = who.name;
      return status;
    },
    {
      validator: (raw) => {
        const r = revokeGrantInput.safeParse(raw);
        if (!r.success) throw refuse(`invalid revoke: ${describeIssues(r.error)}`, FailureType.InvalidInput);
        if (!r.data.identity) throw refuse(IDENTITY_REQUIRED, FailureType.IdentityRefused);
        grantActive();
      },
    },
  );

  if (verifiedRequest) {
    requester = await proveIdentity(input.identity, `request break-glass access under ${input.policyId}`);
    status.requester = requester.name;
  }
  policy = await quick.loadBreakGlassPolicy({ policyId: input.policyId });
  ref.secretId = policy.secretId;
  upsertSearchAttributes([
    { key: SECRET_ID, value: policy.secretId },
    { key: PHASE, value: `break_glass:${status.phase}` },
  ]);

  setHandler(endForIncidentUpdate, async ({ incidentId }) => {
    if (patched(Patch.INCIDENT_END_CHECKED)) {
      const freeze = await quick.incidentFreezeOf({ incidentId, secretId: policy.secretId });
      if (!freeze.active)
        throw refuse(
          `incident ${incidentId} has no active freeze: only incident response ends a break-glass request`,
          FailureType.NotAllowed,
        );
    }
    if (status.phase === BreakGlassPhase.AWAITING_APPROVAL)
      status.denial ??= { approver: `incident:${incidentId}`, comment: `ended by incident ${incidentId}` };
    else status.revokedBy ??= `incident:${incidentId}`;
    return status;
  });

  // --- the request itself ---
  const refused = async (reason: string) => {
    closed = true;
    await event('break_glass_request', status.requester, 'refused', { reason });
    return end({ outcome: 'refused', requestId, policyId: input.policyId, reason });
  };
  const mayRequest = requester
    ? (policy.requesterGroups ?? []).some((g) => requester!.groups.includes(g))
    : policy.requesters.includes(status.requester);
  if (!mayRequest)
    return refused(
      `${status.requester} may not request break-glass access under ${policy.policyId}${requester ? ` (requester groups: ${(policy.requesterGroups ?? []).join(', ')})` : ''}`,
    );
  if (ttlMs > policy.maxTtlMs) return refused(`ttl ${input.ttl} exceeds the policy's maximum of ${policy.maxTtlMs / 1000}s`);
  const frozen = await quick.activeFreeze({ secretId: policy.secretId });
  if (frozen) return refused(`incident ${frozen.incidentId} froze new grants: ${frozen.reason}`);
  await event('break_glass_request', status.requester, 'started', { justification: input.justification, ttlSeconds: ttlMs / 1000 });
  await quick
    .notifyApprovers({ ...ref, actor: status.requester, requester: status.requester, justification: input.justification, ttlMs })
    .catch(() => undefined);

  status.open = true;
  if (!(await condition(decided, policy.approvalTimeoutMs))) {
    closed = true;
    await event('break_glass_expired', 'rotor', 'refused', { approvals: status.approvals.length, required: policy.approvals });
    return end({ outcome: 'expired', requestId, policyId: input.policyId, approvals: status.approvals.length, required: policy.approvals });
  }
  // The deciding update is still writing its audit row: answer it (and any other decision still
  // being recorded) before acting on the decision, so that nothing the workflow does next races
  // an update handler's local activity. Before this patch the two raced, and a history's order of
  // update completion and issueGrant depended on which local activity came back first.
  const answerFirst = patched(Patch.DECISIONS_ANSWERED_BEFORE_GRANT);
  if (answerFirst) await condition(allHandlersFinished);
  if (status.denial)
    return end({
      outcome: 'denied',
      requestId,
      policyId: input.policyId,
      deniedBy: status.denial.approver,
      reason: status.denial.comment ?? '',
    });
  const freezeCheck = quick.activeFreeze({ secretId: policy.secretId });
  // v1: the freeze check's result waits for the decisions whose audit rows came back before it.
  const stillFrozen = await (answerFirst ? freezeCheck : arrivals.arrival('freeze-check', freezeCheck));
  if (!answerFirst) await arrivals.turn('freeze-check');
  if (stillFrozen) {
    arrivals.done('freeze-check');
    return refused(`incident ${stillFrozen.incidentId} froze new grants: ${stillFrozen.reason}`);
  }

  // --- granted: until the TTL or an explicit revoke, whichever comes first ---
  const approvers = status.approvals.map((a: Decision) => a.approver).join(',');
  const grantRef = { ...ref, actor: `${status.requester} (approved by ${approvers})`, ttlMs };
  // Delivered where only the requester's own Vault identity can read it (never history or a query).
  // An activity of its own: a worker of the previous release cannot pick it up and wrap instead.
  const issuing = requester ? target.issueGrantToEntity({ ...grantRef, deliverTo: requester.entityId }) : target.issueGrant(grantRef);
  arrivals.done('freeze-check'); // issueGrant is scheduled: v1 decisions that came back after the freeze check may answer
  status.grant = await issuing;
  setPhase(BreakGlassPhase.GRANTED);
  try {
    await condition(() => status.revokedBy !== undefined, ttlMs);
  } finally {
    await CancellationScope.nonCancellable(async () => {
      setPhase(BreakGlassPhase.REVOKING);
      status.revokedBy ??= 'ttl';
      const { leaseId, username, deliveredTo } = status.grant!;
      await revocation.revokeGrant({ ...ref, actor: status.revokedBy, leaseId, username, ...(deliveredTo ? { deliveredTo } : {}) });
    });
  }

  let rotation: string | undefined;
  // Ended by an incident: incident response does not wait for an ordinary rotation (the secrets in
  // its scope are emergency-rotated).
  if (policy.rotateAfter && !status.revokedBy?.startsWith('incident:')) {
    setPhase(BreakGlassPhase.ROTATING);
    try {
      const result = await executeChild(rotateSecret, {
        workflowId: rotationWorkflowId(policy.secretId),
        args: [{ secretId: policy.secretId, requestedBy: `break-glass:${requestId}`, reason: 'rotate after break-glass use' }],
      });
      rotation = result.outcome;
    } catch (err) {
      rotation = err instanceof WorkflowExecutionAlreadyStartedError ? 'already running' : `failed: ${failureMessage(err)}`;
    }
  }
  return end({
    outcome: 'revoked',
    requestId,
    policyId: input.policyId,
    username: status.grant.username,
    revokedBy: status.revokedBy ?? 'ttl',
    ...(rotation ? { rotation } : {}),
  });
}

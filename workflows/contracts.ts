/**
 * How the outside world names rotor's workflows: their ids, queries, updates and signals. The
 * workflows, the CLI, schedules, the launcher, benchmarks and tests all use these, so a renamed
 * query or a changed id scheme is one edit and a type error everywhere else.
 *
 * The names in the define* calls are part of workflow histories (updates, signals): never
 * change them (docs/versioning.md).
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ApprovalInput, ConfirmCutoverInput, DenialInput, EndRevocationInput, RevokeGrantInput } from '../config/workflow-inputs.js';
import type { BreakGlassStatus } from './break-glass-types.js';
import type { IncidentProgress, IncidentReport } from './incident-types.js';
import type { GateDecision, GateReport, PlanStatus } from './plan-types.js';
import type { ConsumerState, RotationStatus } from './rotation-types.js';

// --- workflow ids ---

export const ROTATION_ID_PREFIX = 'rotate/';
/** One rotation per secret (invariant one-rotation-per-secret): every rotation of a secret runs under this id. */
export const rotationWorkflowId = (secretId: string): string => `${ROTATION_ID_PREFIX}${secretId}`;
/** A secret's schedule has the same id as its rotations; Temporal appends a timestamp to each run's id. */
export const rotationScheduleId = rotationWorkflowId;
export const planWorkflowId = (planId: string): string => `plan/${planId}`;
export const incidentWorkflowId = (incidentId: string): string => `incident/${incidentId}`;
export const dryRunWorkflowId = (incidentId: string, at: number): string => `incident/${incidentId}/dry-run/${at}`;
export const unfreezeWorkflowId = (incidentId: string, at: number): string => `unfreeze/${incidentId}/${at}`;
export const seedWorkflowId = (secretId: string): string => `seed/${secretId}`;
export const stackHealthWorkflowId = (at: number): string => `stack-health/${at}`;
/** `break-glass/<policy>/<ISO time with : and . as ->`: sortable and readable in the UI. */
export const breakGlassWorkflowId = (policyId: string, at: Date): string =>
  `break-glass/${policyId}/${at.toISOString().replace(/[:.]/g, '-')}`;

// --- rotateSecret / emergencyRotate ---

export const statusQuery = defineQuery<RotationStatus>('status');
export const confirmCutoverUpdate = defineUpdate<ConsumerState, [ConfirmCutoverInput]>('confirmCutover');
/** Ends an emergency revocation that keeps failing: a person took over the old credential. */
export const endRevocationUpdate = defineUpdate<RotationStatus, [EndRevocationInput]>('endRevocation');

// --- rotatePlan and its children's lockstep ---

export const planStatusQuery = defineQuery<PlanStatus>('planStatus');
/** Child → plan: "I reached this gate" (ok) or "I failed on the way to it". */
export const gateReachedSignal = defineSignal<[GateReport]>('planGateReached');
/** Plan → child: pass a gate, or abort (roll back or discard, whichever applies). */
export const gateDecisionSignal = defineSignal<[GateDecision]>('planDecision');

// --- breakGlass ---

export const breakGlassStatusQuery = defineQuery<BreakGlassStatus>('breakGlassStatus');
export const approveUpdate = defineUpdate<BreakGlassStatus, [ApprovalInput]>('approve');
export const denyUpdate = defineUpdate<BreakGlassStatus, [DenialInput]>('deny');
export const revokeUpdate = defineUpdate<BreakGlassStatus, [RevokeGrantInput]>('revoke');
/** Incident response (revokeAll) ends a request or grant whatever its state. */
export const endForIncidentUpdate = defineUpdate<BreakGlassStatus, [{ incidentId: string }]>('endForIncident');

// --- revokeAll ---

export const incidentProgressQuery = defineQuery<IncidentProgress>('incidentProgress');
export const incidentReportQuery = defineQuery<IncidentReport>('incidentReport');

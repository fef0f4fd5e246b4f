import { ActivityFailure, ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import { IDENTITY_REQUIRED } from '../config/workflow-inputs.js';
import type { VerifiedIdentity } from '../activities/identity/identity-token.js';
import { incidentWorkflowId } from './contracts.js';
import { FailureType } from './failure-types.js';
import { quick } from './rotation-activities.js';

export type { VerifiedIdentity };

/**
 * The identity a request proves, verified by the worker (signature, audience, expiry, first use)
 * before the workflow changes anything. A request without a token is refused: a name in a payload
 * is a claim, not a proof.
 */
export async function proveIdentity(token: string | undefined, purpose: string, secretId?: string): Promise<VerifiedIdentity> {
  if (!token) throw ApplicationFailure.nonRetryable(IDENTITY_REQUIRED, FailureType.IdentityRefused);
  try {
    return await quick.verifyIdentity({ assertion: token, purpose, ...(secretId ? { secretId } : {}) });
  } catch (err) {
    // The refusal itself, not "activity failed", reaches the person (an update's caller sees this).
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure)
      throw ApplicationFailure.nonRetryable(err.cause.message, err.cause.type);
    throw err;
  }
}

/** Refuses unless the identity is in one of `groups`. */
export function requireGroup(who: VerifiedIdentity, groups: readonly string[], forWhat: string): void {
  if (!groups.some((g) => who.groups.includes(g)))
    throw ApplicationFailure.nonRetryable(
      `${who.name} may not ${forWhat}: not in ${groups.length === 1 ? 'the identity group' : 'any of the identity groups'} ${groups.join(', ')}`,
      FailureType.NotInGroup,
    );
}

/**
 * Emergency mode (no overlap, no rollback, sessions ended) is incident response's alone: only a
 * revokeAll parent, which a verified incident responder started, may ask for it. A client cannot
 * make its workflow a child of another, so the parent's id is proof enough.
 */
export function refuseEmergencyOutsideIncident(secretId: string): void {
  const prefix = incidentWorkflowId('');
  const parentId = workflowInfo().parent?.workflowId ?? '';
  // Exactly incident/<id>, the id revokeAll runs under (its dry runs start no children).
  const id = parentId.slice(prefix.length);
  if (!parentId.startsWith(prefix) || id === '' || id.includes('/'))
    throw ApplicationFailure.nonRetryable(
      `emergency rotation of ${secretId} refused: emergency mode is started only by incident response (rotor incident revoke-all, as a verified incident responder); for an ordinary rotation leave emergency out`,
      FailureType.EmergencyNotAllowed,
    );
}

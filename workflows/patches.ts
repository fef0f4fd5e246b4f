/**
 * The `patched()` ids of rotor's workflows, one per change to what a workflow does, with the
 * histories it keeps working (docs/versioning.md). Never rename or reuse an id; remove one only
 * with `deprecatePatch` once no open workflow can hold the old commands.
 */
export const Patch = {
  /**
   * Emergency rotations run as their own workflow, with promotion a step of its own: revokeAll
   * starts emergencyRotate, and a rotateSecret started with `emergency: true` runs the same steps.
   * Without the marker (histories of v1) both run the single cutover activity they ran before.
   */
  EMERGENCY_ROTATE_WORKFLOW: 'emergency-rotate-workflow',
  /**
   * revokeAll pre-empts a rotation already running for a secret in scope (cancels it, waits for it
   * to close, then emergency-rotates) instead of reporting the secret failed.
   */
  PREEMPT_RUNNING_ROTATION: 'preempt-running-rotation',
  /**
   * A rotateSecret cancelled in its overlap revokes the old version at once (the new one is proven)
   * instead of ending cancelled with both valid.
   */
  REVOKE_WHEN_CANCELLED_IN_OVERLAP: 'revoke-when-cancelled-in-overlap',
  /**
   * Rollback waits for every consumer that had confirmed the new version to confirm the restored
   * one, each through its own mode, before it revokes the staged credential; one that does not is
   * listed as a pending revocation and keeps working. Without the marker: best-effort notices.
   */
  ROLLBACK_WAITS_FOR_CONSUMERS: 'rollback-waits-for-consumers',
  /** Revoking the old version (after the overlap) runs to its end even if the rotation is cancelled meanwhile. */
  RETIRE_NOT_CANCELLABLE: 'retire-not-cancellable',
  /**
   * A promotion that failed (its stamp or audit row failed on every attempt, or the worker died)
   * asks Vault whether its KV write happened; if so the rotation rolls back, as after any failure
   * after promotion, instead of discarding a staged credential that is already current.
   */
  PROMOTION_FAILURE_CHECKS_KV: 'promotion-failure-checks-kv',
  /**
   * An emergency rotation whose revocation of the old version fails its fast attempts keeps trying
   * (workflows/persistent-revocation.ts) until it is verified refused or a person ends it, instead of
   * failing; and a promotion that failed after its KV write goes on to revoke, instead of aborting.
   */
  EMERGENCY_REVOCATION_PERSISTS: 'emergency-revocation-persists',
  /**
   * breakGlass answers every decision update (its audit row written) before it acts on the
   * decision: the freeze check and issueGrant no longer race the deciding approval's handler, whose
   * local activity decided whether history held the update's completion or issueGrant first.
   * Without the marker (histories of v1) the two go in the order their local activities came back
   * (workflows/legacy/grant-race-v1.ts), as they ran.
   */
  DECISIONS_ANSWERED_BEFORE_GRANT: 'decisions-answered-before-grant',
  /**
   * Identity is proven, never declared: approvals, denials, grant revocations, confirmations,
   * unfreezes, ended revocations, break-glass requests and revokeAll carry a Vault identity token
   * the worker verifies (verifyIdentity) before anything changes; a name in the payload counts for
   * nothing. Without the marker (earlier histories) the declared names are used, as they ran.
   */
  VERIFIED_IDENTITY: 'verified-identity',
  /**
   * Emergency mode (rotateSecret with emergency: true, emergencyRotate) is accepted only from a
   * revokeAll parent; a client starting one is refused before any step.
   */
  EMERGENCY_FROM_INCIDENT_ONLY: 'emergency-from-incident-only',
  /**
   * endForIncident on a break-glass request is checked against the incident's active freeze (a
   * client cannot end a grant, or skip the rotation after it, by naming an incident).
   */
  INCIDENT_END_CHECKED: 'incident-end-checked',
  /**
   * A rotation that fails outright (its rollback or discard failed, the secret is unknown, a plan
   * gate refused) records a `rotation_finished` audit row with outcome `failed` before it fails,
   * so metrics and notifications see it. Without the marker it failed with no such row.
   */
  FAILURE_RECORDED: 'failure-recorded',
} as const;

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
} as const;

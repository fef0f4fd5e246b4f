import { ActivityFailure, ApplicationFailure, uuid4 } from '@temporalio/workflow';
import type { CutoverStep } from '../emergency-rotate.js';
import { emergencyTarget } from '../rotation-activities.js';
import { decodeFailedStep } from '../step-failure.js';

/**
 * How an emergency rotation reached promotion before Patch.EMERGENCY_ROTATE_WORKFLOW: one activity
 * from pre-checks through promotion (and retirement, with no consumers). Kept unchanged so that
 * histories recorded then replay; new runs never take this path.
 */
export const cutoverV1: CutoverStep = {
  run: (run, reason) => emergencyTarget.emergencyCutover({ ...run.ref, reason, eventId: uuid4(), finishEventId: run.finishEventId }),
  // v1 looked for the step only inside an ActivityFailure, which a local activity's failure is
  // not: its failures ended the workflow as failed, and replay must do the same.
  failedStep: (err) => {
    const cause = err instanceof ActivityFailure ? err.cause : undefined;
    return cause instanceof ApplicationFailure ? decodeFailedStep(cause.details) : undefined;
  },
};

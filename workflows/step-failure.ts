import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { Phase } from './rotation-types.js';

/** Where an activity that runs several rotation steps failed, and the version that was current then. */
export interface FailedStep {
  phase: Phase;
  fromVersion?: number;
}

/**
 * Activity side: the same failure (message, type, retryability), with the step it failed in as
 * its details, `[phase, fromVersion | null]` (the format histories since v1 hold).
 */
export function withFailedStep(failure: unknown, at: FailedStep): ApplicationFailure {
  const details = [at.phase, at.fromVersion ?? null];
  if (!(failure instanceof ApplicationFailure))
    return ApplicationFailure.create({ message: failure instanceof Error ? failure.message : String(failure), details });
  return ApplicationFailure.create({
    message: failure.message,
    type: failure.type ?? undefined,
    nonRetryable: failure.nonRetryable ?? undefined,
    details,
  });
}

/**
 * Workflow side: the step an activity reported with `withFailedStep`, or undefined (it failed
 * before any step). A local activity's failure reaches the workflow as the ApplicationFailure
 * itself, a remote one wrapped in an ActivityFailure: both are read.
 */
export function failedStepOf(err: unknown): FailedStep | undefined {
  const failure = err instanceof ActivityFailure ? err.cause : err;
  return failure instanceof ApplicationFailure ? decodeFailedStep(failure.details) : undefined;
}

export function decodeFailedStep(details: unknown[] | null | undefined): FailedStep | undefined {
  const [phase, fromVersion] = details ?? [];
  const known = Object.values(Phase).find((p) => p === phase);
  if (!known) return undefined;
  return typeof fromVersion === 'number' ? { phase: known, fromVersion } : { phase: known };
}

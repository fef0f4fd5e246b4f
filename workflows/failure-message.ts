import { ActivityFailure, ApplicationFailure, TemporalFailure, TimeoutFailure } from '@temporalio/workflow';

/** The innermost useful message of a Temporal failure chain ("activity failed" says nothing). */
export function failureMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof ActivityFailure || (e instanceof TemporalFailure && !(e instanceof ApplicationFailure) && e.cause))
    e = (e as TemporalFailure).cause;
  if (e instanceof TimeoutFailure) return `timed out (${e.timeoutType === undefined ? 'timeout' : String(e.timeoutType)})`;
  return e instanceof Error ? e.message : String(e);
}

/** The ApplicationFailure type in the chain, e.g. "CasConflict". */
export function failureType(err: unknown): string | undefined {
  for (let e: unknown = err; e instanceof Error; e = (e as Error).cause) if (e instanceof ApplicationFailure) return e.type ?? undefined;
  return undefined;
}

export function isTimeout(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = (e as Error).cause) if (e instanceof TimeoutFailure) return true;
  return false;
}

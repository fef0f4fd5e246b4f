/** How a failed delivery is retried: exponential, capped per wait and in total. */
export interface RetryPolicy {
  /** The wait after the first failed attempt. */
  firstDelayMs: number;
  /** The longest single wait. */
  maxDelayMs: number;
  /** After this long since the event, a delivery is given up (dead). */
  giveUpAfterMs: number;
  /** Up to this fraction of a wait is added at random, so many deliveries to one receiver spread out. */
  jitter: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  firstDelayMs: 2_000,
  maxDelayMs: 15 * 60_000,
  giveUpAfterMs: 24 * 3_600_000,
  jitter: 0.2,
};

export type RetryDecision = { kind: 'retry'; delayMs: number } | { kind: 'dead'; reason: string };

/**
 * What to do after failed attempt number `attempts` (1 = the first) of a delivery first queued
 * `ageMs` ago. `random` is in [0, 1) (Math.random in production; fixed in tests).
 */
export function afterFailure(
  attempts: number,
  ageMs: number,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  random = Math.random(),
): RetryDecision {
  const exponential = policy.firstDelayMs * 2 ** Math.min(Math.max(attempts - 1, 0), 30);
  const delayMs = Math.round(Math.min(exponential, policy.maxDelayMs) * (1 + policy.jitter * random));
  if (ageMs + delayMs > policy.giveUpAfterMs)
    return { kind: 'dead', reason: `still failing after ${attempts} attempts over ${Math.round(ageMs / 60_000)} minutes` };
  return { kind: 'retry', delayMs };
}

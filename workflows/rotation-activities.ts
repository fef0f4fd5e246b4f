import { ActivityCancellationType, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

/**
 * Retry policies per kind of step: quick Vault/KV/bookkeeping steps, target steps, and long waits.
 * Quick steps run as local activities: the same retries and audit rows, without a task-queue round
 * trip each (on the local stack that round trip cost more than the steps themselves).
 */
export const quick = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 5 },
});

/**
 * Activities heartbeat every 2 s (activities/audit/audited.ts): a worker that dies mid-step is
 * noticed after this, and the step retried elsewhere, instead of after its start-to-close.
 */
const HEARTBEAT_TIMEOUT = '10 seconds';

export const target = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 6 },
});

/** Post-validation: a consumer that is still unhealthy after a few seconds means roll back. */
export const validation = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 3 },
});

/** Revocation must eventually be verified; keep trying for a while before giving up loudly. */
export const revocation = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
});

/**
 * Reads that decide which way a rotation goes (did a promotion land?): answering wrongly is worse
 * than waiting, so they are retried until Vault answers.
 */
export const verification = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

/**
 * Emergency revocation after its fast attempts failed: the compromised credential must not stay
 * valid with nothing trying to revoke it, so this retries without limit, backing off to 2 minutes.
 */
export const persistentRevocation = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  // Ended by a person: the attempt in flight settles before the rotation reports how it ended.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes' },
});

/** One consumer's confirmation: retried until the consumer's own timeout is spent. */
export function confirmation(timeoutMs: number) {
  return proxyActivities<Activities>({
    scheduleToCloseTimeout: timeoutMs,
    startToCloseTimeout: timeoutMs,
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    retry: { initialInterval: '1 second', backoffCoefficient: 1.5, maximumInterval: '10 seconds' },
  });
}

/** Rollback notices are best effort: one short try each. */
export const bestEffort = proxyActivities<Activities>({
  startToCloseTimeout: '20 seconds',
  scheduleToCloseTimeout: '30 seconds',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { maximumAttempts: 2 },
});

/**
 * Incident response fails fast and reports: an unreachable target must not hold an emergency
 * rotation for minutes while the rest of the blast radius waits. Local activities: speed over
 * spreading one rotation's steps across workers (measured in bench/revoke-all.ts).
 */
export const emergencyTarget = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '2 seconds', maximumAttempts: 3 },
});

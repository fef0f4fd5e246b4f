import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Inventory } from '../config/inventory-schema.js';
import type { VaultRunner } from '../vault/secret-session.js';
import { eventOfAuditRow } from './audit-events.js';
import { afterFailure, DEFAULT_RETRY_POLICY, type RetryPolicy } from './backoff.js';
import { attemptDelivery, type AttemptOutcome } from './deliver.js';
import { claimDue, markDead, markDelivered, markRetry, tailAuditLog, type ClaimedDelivery } from './outbox-store.js';
import { targetsOf } from './routing.js';
import { checkStuckRotations } from './stuck-watch.js';
import { resolveTarget, TargetUnavailableError, type ResolvedTarget } from './target-secrets.js';

/** The most a worker's start waits for the first tick (see `ready`). */
const READY_WITHIN_MS = 5_000;

export interface NotificationDeps {
  db: pg.Pool;
  /** The worker's own session: reads target URLs and signing keys (its policy names exactly those paths). */
  vault: VaultRunner;
  inventory: { current(): Promise<Inventory> };
  temporal: Client;
  logger: Logger;
  kvMount: string;
  /** The deployment whose inventory this is: the worker's task queue. */
  scope: string;
  namespace: string;
}

export interface NotificationOptions {
  /** How often the audit log is tailed and due deliveries sent. */
  tickMs?: number;
  /** How often running rotations are checked for a stuck phase. */
  stuckEveryMs?: number;
  /** Deliveries attempted at once per worker. */
  concurrency?: number;
  retry?: RetryPolicy;
}

export interface NotificationDispatcher {
  /**
   * The first tick's end (its failures are logged, not thrown), or 5 s, whichever comes first: from
   * the first tick on, every audit row is seen (a deployment's first tail starts at the log's head).
   */
  ready: Promise<void>;
  /** Stops the schedule and waits for the tick in flight (attempts end within deliver.ts ATTEMPT_TIMEOUT_MS). */
  stop(): Promise<void>;
}

/**
 * Runs beside a worker for as long as it lives: tails the audit log into the outbox, delivers
 * what is due, and now and then queues stuck rotations. Every worker does it (the cursor and SKIP
 * LOCKED share the work); a failure is logged and the next tick tries again, never stopping the worker.
 */
export function startNotifications(deps: NotificationDeps, options: NotificationOptions = {}): NotificationDispatcher {
  const tickMs = options.tickMs ?? 1_000;
  const stuckEveryMs = options.stuckEveryMs ?? 60_000;
  const concurrency = options.concurrency ?? 10;
  const retry = options.retry ?? DEFAULT_RETRY_POLICY;
  const log = deps.logger.child({ component: 'notifications' });
  let stopped = false;
  let busy = false;
  let inFlight: Promise<void> = Promise.resolve();
  let stuckInFlight: Promise<void> | undefined;
  let lastStuckCheck = 0;
  // The same failure every second is one line until it changes or that part succeeds again.
  const lastProblem = new Map<string, string>();
  const problem = (what: string, err: unknown) => {
    const message = (err as Error).message;
    if (message !== lastProblem.get(what) && !stopped) log.warn({ err: `${what}: ${message}` }, 'notifications: retried at the next tick');
    lastProblem.set(what, message);
  };
  const recovered = (what: string) => {
    if (lastProblem.delete(what)) log.info({ part: what }, 'notifications: working again');
  };

  async function tail(inventory: Inventory): Promise<void> {
    // Catch up in batches, but let delivery run between catch-ups of a long backlog.
    for (let i = 0; i < 10 && !stopped; i++) {
      const result = await tailAuditLog(deps.db, deps.scope, (row) => {
        // Older than a delivery would be retried for (a backlog after notifications were off): news no more.
        if (Date.now() - row.at.getTime() > retry.giveUpAfterMs) return [];
        const event = eventOfAuditRow(row, inventory);
        return event ? targetsOf(event, inventory).map((target) => ({ event, target })) : [];
      });
      if (result?.queued) log.debug({ rows: result.rows, queued: result.queued }, 'notifications queued');
      for (const s of result?.skipped ?? []) log.error({ ...s }, 'notification could not be queued; passed over');
      if (!result || result.rows < 500) return;
    }
  }

  async function deliver(inventory: Inventory): Promise<void> {
    const claimed = await claimDue(deps.db, deps.scope, concurrency);
    if (!claimed.length) return;
    const resolved = new Map<string, Promise<ResolvedTarget>>();
    // Settled, not all: the tick (and stop()) waits for every attempt, whichever fails first.
    const failed = (await Promise.allSettled(claimed.map((d) => deliverOne(inventory, d, resolved)))).find(
      (r): r is PromiseRejectedResult => r.status === 'rejected',
    );
    if (failed) throw failed.reason;
  }

  async function deliverOne(inventory: Inventory, d: ClaimedDelivery, resolved: Map<string, Promise<ResolvedTarget>>): Promise<void> {
    const fields = { deliveryId: d.id, kind: d.event.kind, target: d.target, secretId: d.event.secretId, attempt: d.attempt };
    const target = inventory.notifications.targets[d.target];
    let outcome: AttemptOutcome;
    if (!target) outcome = { kind: 'rejected', error: `target ${d.target} is no longer in the inventory` };
    else {
      let r = resolved.get(d.target);
      if (!r) resolved.set(d.target, (r = resolveTarget(deps.vault, deps.kvMount, d.target, target)));
      try {
        const link = {
          namespace: deps.namespace,
          ...(inventory.notifications.temporalUiUrl ? { temporalUiUrl: inventory.notifications.temporalUiUrl } : {}),
        };
        outcome = await attemptDelivery({
          deliveryId: d.id,
          targetName: d.target,
          target,
          resolved: await r,
          event: d.event,
          attempt: d.attempt,
          link,
        });
      } catch (err) {
        if (!(err instanceof TargetUnavailableError)) throw err;
        outcome = { kind: 'retryable', error: err.message };
      }
    }
    switch (outcome.kind) {
      case 'delivered':
        await markDelivered(deps.db, d);
        log.info({ ...fields, status: outcome.status }, 'notification delivered');
        return;
      case 'retryable': {
        const next = afterFailure(d.attempt, d.ageMs, retry);
        if (next.kind === 'retry') {
          await markRetry(deps.db, d, next.delayMs, outcome.error);
          log.warn({ ...fields, error: outcome.error, retryInMs: next.delayMs }, 'notification not delivered; retried');
          return;
        }
        await markDead(deps.db, d, `${outcome.error}; ${next.reason}`);
        log.error({ ...fields, error: outcome.error, reason: next.reason }, 'notification given up (dead)');
        return;
      }
      case 'rejected':
        await markDead(deps.db, d, outcome.error);
        log.error({ ...fields, error: outcome.error }, 'notification refused; given up (dead)');
        return;
    }
  }

  /** On its own schedule: a Temporal that does not answer must not hold up tailing and delivery. */
  function stuck(inventory: Inventory): void {
    if (stuckInFlight || Date.now() - lastStuckCheck < stuckEveryMs) return;
    lastStuckCheck = Date.now();
    stuckInFlight = checkStuckRotations({ client: deps.temporal, db: deps.db, inventory, scope: deps.scope })
      .then((result) => {
        recovered('checking for stuck rotations');
        if (result.kind === 'checked' && result.queued)
          log.warn({ stuck: result.stuck, queued: result.queued }, 'stuck rotations notified');
      })
      .catch((err: unknown) => problem('checking for stuck rotations', err))
      .finally(() => (stuckInFlight = undefined));
  }

  const tick = () => {
    if (busy || stopped) return; // a slow receiver or database: one tick at a time
    busy = true;
    inFlight = (async () => {
      try {
        const inventory = await deps.inventory.current();
        // Nobody to tell: no database work at all (the first tail once targets appear starts where
        // the cursor was, and rows older than the retry window are passed over).
        if (!Object.keys(inventory.notifications.targets).length) return;
        // Each part on its own: a database hiccup in one must not stop the others.
        for (const [what, part] of [
          ['tailing the audit log', tail],
          ['delivering', deliver],
        ] as const) {
          if (stopped) break;
          await part(inventory).then(
            () => recovered(what),
            (err: unknown) => problem(what, err),
          );
        }
        if (!stopped) stuck(inventory);
      } catch (err) {
        problem('reading the inventory', err);
      } finally {
        busy = false;
      }
    })();
  };
  tick();
  // Bounded: a database that does not answer (a blackholed host) must not hold up the worker's start.
  let readyTimer: NodeJS.Timeout | undefined;
  const ready = Promise.race([inFlight, new Promise<void>((resolve) => (readyTimer = setTimeout(resolve, READY_WITHIN_MS)))]).finally(() =>
    clearTimeout(readyTimer),
  );
  const timer = setInterval(tick, tickMs);
  // The schedule alone must not keep a process alive whose worker has ended.
  timer.unref();
  return {
    ready,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight;
      await stuckInFlight;
    },
  };
}

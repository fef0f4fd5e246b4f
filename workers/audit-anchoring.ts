import type pg from 'pg';
import type { Logger } from 'pino';
import { advanceAuditAnchor } from '../activities/audit/audit-anchor.js';
import type { AuditVault } from '../activities/audit/audit-key.js';

/** How often a worker anchors the audit log's head in Vault: the most of the log's tail a cut can take unnoticed. */
export const AUDIT_ANCHOR_INTERVAL_MS = 30_000;

export interface AuditAnchoring {
  /** Stops the schedule and waits for an anchoring in flight. */
  stop(): Promise<void>;
}

/** `host:port/dbname` of a postgres:// URL: where the anchored log lives, without its credentials. */
export function databaseLocation(databaseUrl: string): string | undefined {
  try {
    const url = new URL(databaseUrl);
    return `${url.hostname}:${url.port || '5432'}${url.pathname}`;
  } catch {
    return undefined;
  }
}

/**
 * Anchors the audit log's head in Vault once now and then every `intervalMs`, for as long as the
 * worker runs (see audit-anchor.ts). Every worker does it; several racing is fine (check-and-set,
 * the loser waits for the next tick). A failure is logged and retried at the next tick: anchoring
 * never stops the worker.
 */
export function startAuditAnchoring(
  deps: { db: pg.Pool; vault: AuditVault; kvMount: string; databaseUrl: string; logger: Logger },
  intervalMs = AUDIT_ANCHOR_INTERVAL_MS,
): AuditAnchoring {
  const { db, vault, kvMount, logger } = deps;
  const database = databaseLocation(deps.databaseUrl);
  let inFlight: Promise<void> = Promise.resolve();
  let stopped = false;
  let busy = false;
  const tick = () => {
    if (busy) return; // a slow Vault or database: one anchoring at a time
    busy = true;
    inFlight = (async () => {
      try {
        const result = await advanceAuditAnchor(db, vault, kvMount, database);
        if (result.outcome === 'written') logger.debug({ seq: result.anchor.seq }, 'audit log anchored in Vault');
        // Loud and repeated: the anchor is evidence, kept until a person looks.
        if (result.outcome === 'refused')
          logger.error({ reason: result.reason }, 'audit anchor not advanced: the audit log was tampered with');
      } catch (err) {
        if (!stopped) logger.warn({ err: (err as Error).message }, 'audit anchoring failed; retried at the next tick');
      } finally {
        busy = false;
      }
    })();
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  // The schedule alone must not keep a process alive whose worker has ended.
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight;
    },
  };
}

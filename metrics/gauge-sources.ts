import type { ActivityContext } from '../activities/activity-context.js';
import { activeFreezes } from '../activities/incident/freeze-store.js';
import { credentialSince } from '../cli/debt-report.js';
import type { Inventory } from '../config/inventory-schema.js';
import { listRunningRotations, type RunningRotation } from '../observe/running-rotations.js';

/** The sources gauges are read from, named as `rotor_metrics_collect_errors_total{source}` reports them. */
export const MetricSource = {
  INVENTORY: 'inventory',
  VAULT: 'vault',
  AUDIT_LOG: 'audit_log',
  INCIDENT_FREEZE: 'incident_freeze',
  TEMPORAL: 'temporal',
  /** The Temporal SDK's own exporter, whose text the metrics server appends. */
  TEMPORAL_SDK: 'temporal_sdk',
} as const;
export type MetricSource = (typeof MetricSource)[keyof typeof MetricSource];

export interface ActiveGrant {
  secretId: string;
  requestId: string;
  /** Unix seconds; null when the grant row carries no expiry. */
  expiresAt: number | null;
}

/** What the gauges show, read once for many scrapes; a source that failed leaves its part undefined. */
export interface GaugeSnapshot {
  inventory?: Inventory;
  /** Seconds since the current credential was created (a rollback's copy is as old as what it restored). */
  secretAge?: Map<string, number>;
  /** Unix seconds of each secret's last rotation that ended `rotated`. */
  lastSuccess?: Map<string, number>;
  grants?: ActiveGrant[];
  incidentsActive?: number;
  running?: RunningRotation[];
  takenAt: number;
}

/** How many secrets' KV metadata are read at once: a scrape must not flood Vault. */
const VAULT_CONCURRENCY = 8;
/**
 * Credential times change only when a rotation promotes or rolls back, and reading them is one
 * Vault call per secret: every worker re-reads them this often, not on every scrape.
 */
const VAULT_REFRESH_MS = 30_000;

/** Rejects after `ms`; the work itself goes on (nothing here can be cancelled) but the scrape does not wait. */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** Since when (ms) each secret's current credential exists. */
async function credentialTimes(ctx: ActivityContext, inventory: Inventory): Promise<Map<string, number>> {
  const since = new Map<string, number>();
  const queue = [...inventory.secrets];
  let failed: unknown;
  const worker = async () => {
    for (let s = queue.shift(); s; s = queue.shift()) {
      const spec = s;
      try {
        // The secret's own child token: the worker policy grants a secret's paths only through it.
        const meta = await ctx.vault.forSecret(spec.id).run((v) => v.kvMetadata(ctx.env.ROTOR_VAULT_KV_MOUNT, spec.path));
        const created = meta ? credentialSince(meta).credentialSince : null;
        if (created !== null) since.set(spec.id, Date.parse(created));
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(VAULT_CONCURRENCY, queue.length) }, worker));
  if (failed) throw failed;
  return since;
}

async function lastSuccesses(ctx: ActivityContext, inventory: Inventory): Promise<Map<string, number>> {
  const { rows } = await ctx.db.query<{ secret_id: string; at: Date }>(
    `SELECT secret_id, max(at) AS at FROM audit_log
      WHERE step = 'rotation_finished' AND outcome = 'succeeded' AND secret_id = ANY($1::text[])
      GROUP BY secret_id`,
    [inventory.secrets.map((s) => s.id)],
  );
  return new Map(rows.map((r) => [r.secret_id, r.at.getTime() / 1000]));
}

/** Grants issued and not (yet) revoked by their break-glass run: revocation is verified, so a failing one stays here. */
async function activeGrants(ctx: ActivityContext): Promise<ActiveGrant[]> {
  const { rows } = await ctx.db.query<{ secret_id: string; request_id: string | null; expires_at: string | null }>(
    `SELECT g.secret_id, g.detail->>'requestId' AS request_id, g.detail->>'expiresAt' AS expires_at
       FROM audit_log g
      WHERE g.step = 'break_glass_grant' AND g.outcome = 'succeeded'
        AND NOT EXISTS (SELECT 1 FROM audit_log r
                         WHERE r.step = 'break_glass_revoke' AND r.outcome = 'succeeded'
                           AND r.secret_id = g.secret_id AND r.workflow_id = g.workflow_id AND r.at >= g.at)`,
  );
  return rows.map((r) => {
    const expires = r.expires_at === null ? NaN : Date.parse(r.expires_at);
    return { secretId: r.secret_id, requestId: r.request_id ?? 'unknown', expiresAt: Number.isFinite(expires) ? expires / 1000 : null };
  });
}

/**
 * Reads every gauge's source, each within `timeoutMs` and independently: a slow Vault leaves the
 * ages out of this snapshot, not the whole scrape. A source still busy from an earlier snapshot is
 * awaited again rather than asked twice. Failures go to `onError` by source (never with values:
 * the messages name paths and ids at most, and are not exported).
 */
export class GaugeSources {
  private readonly inflight = new Map<MetricSource, Promise<unknown>>();
  private credentials: { at: number; since: Map<string, number>; inventory: Inventory } | undefined;

  constructor(
    private readonly ctx: ActivityContext,
    private readonly onError: (source: MetricSource, err: unknown) => void,
    private readonly timeoutMs: number,
  ) {}

  private read<T>(source: MetricSource, load: () => Promise<T>): Promise<T | undefined> {
    let work = this.inflight.get(source) as Promise<T> | undefined;
    if (!work) {
      work = load().finally(() => this.inflight.delete(source));
      this.inflight.set(source, work);
      work.catch(() => undefined); // reported below; a timed-out read must not be an unhandled rejection later
    }
    return withDeadline(work, this.timeoutMs, `reading ${source}`).catch((err: unknown) => {
      this.onError(source, err);
      return undefined;
    });
  }

  /** The next snapshot re-reads credential times (this worker just promoted or restored a version). */
  credentialsChanged(): void {
    this.credentials = undefined;
  }

  /** Reused for VAULT_REFRESH_MS unless the inventory changed; a failed read is retried on the next snapshot. */
  private async credentialTimes(inventory: Inventory, now: number): Promise<Map<string, number> | undefined> {
    const c = this.credentials;
    if (c && c.inventory === inventory && now - c.at < VAULT_REFRESH_MS) return c.since;
    const since = await this.read(MetricSource.VAULT, () => credentialTimes(this.ctx, inventory));
    if (since) this.credentials = { at: now, since, inventory };
    return since;
  }

  async snapshot(): Promise<GaugeSnapshot> {
    const now = Date.now();
    const inventory = await this.read(MetricSource.INVENTORY, () => this.ctx.inventory.current());
    if (!inventory) return { takenAt: now };
    const [secretAge, audit, incidentsActive, running] = await Promise.all([
      this.credentialTimes(inventory, now).then(
        (since) => since && new Map([...since].map(([id, t]) => [id, Math.max(0, now - t) / 1000])),
      ),
      this.read(MetricSource.AUDIT_LOG, async () => ({
        last: await lastSuccesses(this.ctx, inventory),
        grants: await activeGrants(this.ctx),
      })),
      this.read(MetricSource.INCIDENT_FREEZE, async () => (await activeFreezes(this.ctx.db)).length),
      this.read(MetricSource.TEMPORAL, () =>
        listRunningRotations({
          client: this.ctx.temporal,
          db: this.ctx.db,
          inventory,
          taskQueue: this.ctx.env.ROTOR_TASK_QUEUE,
          now: new Date(now),
        }),
      ),
    ]);
    return {
      inventory,
      secretAge,
      lastSuccess: audit?.last,
      grants: audit?.grants,
      incidentsActive,
      running,
      takenAt: now,
    };
  }
}

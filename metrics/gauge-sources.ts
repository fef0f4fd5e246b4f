import type { ActivityContext } from '../activities/activity-context.js';
import { lastSuccessfulRotations } from '../activities/audit/last-successes.js';
import { activeFreezes } from '../activities/incident/freeze-store.js';
import { credentialSince } from '../cli/debt-report.js';
import type { Inventory } from '../config/inventory-schema.js';
import { listRunningRotations, type RunningRotation } from '../observe/running-rotations.js';
import { METRICS_BUDGET_MS } from './metrics-budget.js';

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

/** What `readEach` read, and what it could not (by key, the first error kept). */
export interface EachRead<V> {
  values: Map<string, V>;
  failed: string[];
  firstError?: unknown;
}

/**
 * `read` for every key, at most `concurrency` at once; a key that fails (or answers undefined)
 * leaves only itself out, so one unreadable secret does not hide every other's value.
 */
export async function readEach<V>(
  keys: readonly string[],
  concurrency: number,
  read: (key: string) => Promise<V | undefined>,
): Promise<EachRead<V>> {
  const result: EachRead<V> = { values: new Map(), failed: [] };
  const queue = [...keys];
  const worker = async () => {
    for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
      try {
        const value = await read(key);
        if (value !== undefined) result.values.set(key, value);
      } catch (err) {
        result.failed.push(key);
        result.firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
  return result;
}

/** Since when (ms) each secret's current credential exists; a secret whose metadata cannot be read is left out. */
function credentialTimes(ctx: ActivityContext, inventory: Inventory): Promise<EachRead<number>> {
  const specs = new Map(inventory.secrets.map((s) => [s.id, s]));
  return readEach([...specs.keys()], VAULT_CONCURRENCY, async (id) => {
    const spec = specs.get(id)!;
    // The secret's own child token: the worker policy grants a secret's paths only through it.
    const meta = await ctx.vault.forSecret(spec.id).run((v) => v.kvMetadata(ctx.env.ROTOR_VAULT_KV_MOUNT, spec.path));
    const created = meta ? credentialSince(meta).credentialSince : null;
    return created === null ? undefined : Date.parse(created);
  });
}

async function lastSuccesses(ctx: ActivityContext, inventory: Inventory): Promise<Map<string, number>> {
  const last = await lastSuccessfulRotations(
    ctx.db,
    inventory.secrets.map((s) => s.id),
  );
  return new Map([...last].map(([id, at]) => [id, at.getTime() / 1000]));
}

/**
 * Grants issued and not (yet) revoked by their break-glass run: revocation is verified, so a failing
 * one stays here. Not windowed by time: a grant whose revocation keeps failing is what
 * RotorBreakGlassGrantPastTtl is for, so it must stay however old. The scan reads grant rows only
 * (rare, each approved by people; audit_log_step_idx), and each grant's revocation is one probe of
 * migrations/008_metrics_indexes.sql's partial index.
 */
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
 * Reads every gauge's source within one budget for the whole snapshot (`budgetMs`): sources that
 * need no inventory start beside its read, the others right after it, all against the same
 * deadline. A slow source leaves its part out of this snapshot, not the whole scrape. A read still
 * busy from an earlier snapshot is awaited again rather than asked twice. Failures go to `onError`
 * by source (never with values: the messages name paths and ids at most, and are not exported).
 */
export class GaugeSources {
  private readonly inflight = new Map<string, Promise<unknown>>();
  private credentials: { at: number; since: Map<string, number>; inventory: Inventory } | undefined;
  /** Bumped by credentialsChanged: a Vault read begun before it must not be cached after it. */
  private credentialsGeneration = 0;

  constructor(
    private readonly ctx: ActivityContext,
    private readonly onError: (source: MetricSource, err: unknown) => void,
    private readonly budgetMs: number = METRICS_BUDGET_MS,
  ) {}

  /** `load` once at a time per `key`, given until `deadline` (ms since the epoch). */
  private read<T>(key: string, source: MetricSource, deadline: number, load: () => Promise<T>): Promise<T | undefined> {
    let work = this.inflight.get(key) as Promise<T> | undefined;
    if (!work) {
      work = load().finally(() => this.inflight.delete(key));
      this.inflight.set(key, work);
      work.catch(() => undefined); // reported below; a timed-out read must not be an unhandled rejection later
    }
    return withDeadline(work, Math.max(0, deadline - Date.now()), `reading ${source}`).catch((err: unknown) => {
      this.onError(source, err);
      return undefined;
    });
  }

  /** The next snapshot re-reads credential times (this worker just promoted or restored a version). */
  credentialsChanged(): void {
    this.credentials = undefined;
    this.credentialsGeneration++;
  }

  /**
   * Reused for VAULT_REFRESH_MS unless the inventory changed. A partial read (some secrets
   * unreadable) is kept and reported; a read that lands after the deadline is still kept, so a slow
   * Vault shows on a later scrape instead of timing out on every one.
   */
  private credentialTimes(inventory: Inventory, now: number, deadline: number): Promise<Map<string, number> | undefined> {
    const c = this.credentials;
    if (c && c.inventory === inventory && now - c.at < VAULT_REFRESH_MS) return Promise.resolve(c.since);
    const generation = this.credentialsGeneration;
    return this.read('vault', MetricSource.VAULT, deadline, async () => {
      const read = await credentialTimes(this.ctx, inventory);
      const total = inventory.secrets.length;
      // Nothing readable (Vault down, the worker's login refused): not cached, retried next snapshot.
      if (read.failed.length && read.failed.length === total) throw read.firstError;
      if (read.failed.length) {
        const why = (read.firstError as Error | undefined)?.message ?? String(read.firstError);
        // Ids only: which secrets' metadata failed, and the first (value-free) error.
        this.onError(
          MetricSource.VAULT,
          new Error(`KV metadata of ${read.failed.length} of ${total} secrets unreadable (${read.failed.slice(0, 5).join(', ')}): ${why}`),
        );
      }
      if (generation === this.credentialsGeneration) this.credentials = { at: Date.now(), since: read.values, inventory };
      return read.values;
    });
  }

  async snapshot(): Promise<GaugeSnapshot> {
    const now = Date.now();
    const deadline = now + this.budgetMs;
    // Neither needs the inventory: they run beside its read, within the same deadline.
    const grants = this.read('grants', MetricSource.AUDIT_LOG, deadline, () => activeGrants(this.ctx));
    const incidents = this.read('incidents', MetricSource.INCIDENT_FREEZE, deadline, async () => (await activeFreezes(this.ctx.db)).length);
    const inventory = await this.read('inventory', MetricSource.INVENTORY, deadline, () => this.ctx.inventory.current());
    const [secretAge, lastSuccess, running] = inventory
      ? await Promise.all([
          this.credentialTimes(inventory, now, deadline).then(
            (since) => since && new Map([...since].map(([id, t]) => [id, Math.max(0, now - t) / 1000])),
          ),
          this.read('last_success', MetricSource.AUDIT_LOG, deadline, () => lastSuccesses(this.ctx, inventory)),
          this.read('temporal', MetricSource.TEMPORAL, deadline, () =>
            listRunningRotations({
              client: this.ctx.temporal,
              db: this.ctx.db,
              inventory,
              taskQueue: this.ctx.env.ROTOR_TASK_QUEUE,
              now: new Date(now),
              // The listing itself ends at the deadline: its result is never used later.
              timeoutMs: Math.max(1, deadline - Date.now()),
            }),
          ),
        ])
      : [undefined, undefined, undefined];
    return {
      inventory,
      secretAge,
      lastSuccess,
      grants: await grants,
      incidentsActive: await incidents,
      running,
      takenAt: now,
    };
  }
}

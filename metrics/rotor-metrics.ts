import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ActivityContext } from '../activities/activity-context.js';
import { observeAuditLog, type ObservedAuditRow } from '../activities/audit/append-audit.js';
import { cadenceInterval } from '../cli/cadence-interval.js';
import type { Inventory } from '../config/inventory-schema.js';
import { Phase } from '../workflows/rotation-types.js';
import { GaugeSources, MetricSource, withDeadline, type GaugeSnapshot } from './gauge-sources.js';
import { METRICS_BUDGET_MS } from './metrics-budget.js';
import { phaseDurations } from './phase-durations.js';
import type { RunRow } from '../observe/phase-limits.js';

/**
 * The outcomes a rotation run ends with (workflows/rotation-types.ts, plus revocation_failed, and
 * failed: a run that threw writes its rotation_finished row with that outcome); anything else
 * counts as `other`.
 */
export const ROTATION_OUTCOMES = ['rotated', 'rolled_back', 'aborted', 'skipped', 'revocation_failed', 'failed'] as const;
const OUTCOMES: ReadonlySet<string> = new Set(ROTATION_OUTCOMES);
/** Every outcome label rotor_rotations_total can carry. */
const OUTCOME_LABELS = [...ROTATION_OUTCOMES, 'other'] as const;
/** The provider label of a run whose secret is not (or no longer) in the inventory. */
const UNKNOWN_PROVIDER = 'unknown';
const PHASES: ReadonlySet<string> = new Set(Object.values(Phase));
/** An id fit for a label (request ids come from audit rows): anything else is replaced, never exported. */
const ID_LABEL = /^[A-Za-z0-9._:/-]{1,128}$/;

/** From a second (a quick step) to a week (a person confirming a cutover). */
const DURATION_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 7 * 24 * 3600];

export interface RotorMetricsOptions {
  /** How long one gauge snapshot serves scrapes (several Prometheus servers, or a quick interval, share it). */
  cacheMs?: number;
  /**
   * The most one snapshot of every source (Vault, the audit log, Temporal), and the SDK exporter's
   * text beside it, may take before a scrape goes on without what is missing (METRICS_BUDGET_MS).
   */
  budgetMs?: number;
}

export interface RotorMetrics {
  registry: Registry;
  /**
   * Settles once every counter series of the inventory's providers exists at 0: await it before
   * serving a scrape, so the first event after a start is an increase Prometheus sees.
   */
  ready: Promise<void>;
  /** Counts (and logs) a failed read of a source outside the registry's own collection (the SDK's exporter). */
  sourceFailed(source: MetricSource, err: unknown): void;
  /** Stops observing the audit log. */
  stop(): void;
}

/**
 * rotor's own metrics for one worker: counters from the audit rows this worker appends (a rotation
 * that ended, a rollback), gauges read at scrape time from the sources of truth (Vault's KV
 * metadata, the audit log, the incident freeze, Temporal's visibility), cached for `cacheMs`.
 * Label values are ids only (secret ids, provider types, phases, outcomes): never a value.
 */
export function createRotorMetrics(ctx: ActivityContext, options: RotorMetricsOptions = {}): RotorMetrics {
  const cacheMs = options.cacheMs ?? 5_000;
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  const collectErrors = new Counter({
    name: 'rotor_metrics_collect_errors_total',
    help: 'Reads of a metrics source (vault, audit_log, incident_freeze, temporal, temporal_sdk, inventory) that failed or timed out; those series are missing from that scrape.',
    labelNames: ['source'],
    registers,
  });
  for (const source of Object.values(MetricSource)) collectErrors.inc({ source }, 0);
  const sourceFailed = (source: MetricSource, err: unknown) => {
    collectErrors.inc({ source });
    // The message names a source, path or id at most: clients' errors are built without values or tokens.
    ctx.logger.warn({ source, error: (err as Error).message }, 'metrics source failed');
  };

  const rotations = new Counter({
    name: 'rotor_rotations_total',
    help: 'Rotation runs that ended on this worker, by provider type and outcome.',
    labelNames: ['provider', 'outcome'],
    registers,
  });
  const rollbacks = new Counter({
    name: 'rotor_rollbacks_total',
    help: 'Rollbacks (a previous Vault version re-promoted) this worker performed, by provider type.',
    labelNames: ['provider'],
    registers,
  });
  const phaseDuration = new Histogram({
    name: 'rotor_rotation_phase_duration_seconds',
    help: 'How long each phase of a finished rotation took, from its audit rows.',
    labelNames: ['phase'],
    buckets: DURATION_BUCKETS,
    registers,
  });
  const rotationDuration = new Histogram({
    name: 'rotor_rotation_duration_seconds',
    help: 'How long a rotation run took from its start to its end, by outcome.',
    labelNames: ['outcome'],
    buckets: DURATION_BUCKETS,
    registers,
  });

  /*
   * Counters exist at 0 for every provider of the inventory (and `unknown`) × every outcome
   * (and `other`) before the first scrape: increase() needs a sample before the first event, or
   * the first failure after a start (or of a new provider) is invisible to the alerts.
   */
  let zeroedFor: Inventory | undefined;
  const zeroCounters = (inventory: Inventory | undefined) => {
    if (inventory && inventory === zeroedFor) return;
    const providers = new Set([UNKNOWN_PROVIDER, ...(inventory?.secrets.map((x) => x.provider.type) ?? [])]);
    for (const provider of providers) {
      rollbacks.inc({ provider }, 0);
      for (const outcome of OUTCOME_LABELS) rotations.inc({ provider, outcome }, 0);
    }
    if (inventory) zeroedFor = inventory;
  };
  const budgetMs = options.budgetMs ?? METRICS_BUDGET_MS;
  const ready = withDeadline(ctx.inventory.current(), budgetMs, `reading ${MetricSource.INVENTORY}`).then(zeroCounters, (err: unknown) => {
    // `unknown` at least; the inventory's providers follow with the first snapshot that reads it.
    sourceFailed(MetricSource.INVENTORY, err);
    zeroCounters(undefined);
  });

  // One snapshot per cacheMs for every gauge of every scrape.
  const sources = new GaugeSources(ctx, sourceFailed, budgetMs);
  let cached: { at: number; snapshot: Promise<GaugeSnapshot> } | undefined;
  const snapshot = (): Promise<GaugeSnapshot> => {
    if (!cached || Date.now() - cached.at >= cacheMs) {
      // An edited inventory (a new provider) gets its zeros here, as soon as a snapshot reads it.
      const taken = sources.snapshot().then((s) => {
        if (s.inventory) zeroCounters(s.inventory);
        return s;
      });
      cached = { at: Date.now(), snapshot: taken };
    }
    return cached.snapshot;
  };

  const gauge = (
    name: string,
    help: string,
    labelNames: string[],
    fill: (s: GaugeSnapshot, set: (labels: Record<string, string>, value: number) => void) => void,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        const s = await snapshot();
        this.reset();
        // reset() leaves a label-less gauge at 0: a source that failed must leave it out, not report 0.
        if (!labelNames.length) this.remove({});
        fill(s, (labels, value) => (labelNames.length ? this.set(labels, value) : this.set(value)));
      },
    });

  gauge(
    'rotor_secret_age_seconds',
    'Age of the credential current in Vault (its KV version; a rollback copy counts from the version it restored).',
    ['secret'],
    (s, set) => {
      for (const [secret, age] of s.secretAge ?? []) set({ secret }, age);
    },
  );
  gauge(
    'rotor_secret_cadence_seconds',
    "The interval the secret's cadence promises (every, or a cron's longest gap); absent when paused or none.",
    ['secret'],
    (s, set) => {
      const now = new Date(s.takenAt);
      for (const spec of s.inventory?.secrets ?? []) {
        if (!spec.cadence || spec.cadence.paused) continue;
        const ms = cadenceInterval(spec.cadence, now);
        if (ms !== undefined) set({ secret: spec.id }, ms / 1000);
      }
    },
  );
  gauge(
    'rotor_last_success_timestamp_seconds',
    'When the last rotation of the secret that ended rotated finished (unix seconds).',
    ['secret'],
    (s, set) => {
      for (const [secret, at] of s.lastSuccess ?? []) set({ secret }, at);
    },
  );
  gauge(
    'rotor_cutover_pending_seconds',
    'How long a promoted version has been waiting for its consumers to confirm.',
    ['secret'],
    (s, set) => {
      for (const r of s.running ?? [])
        if (r.phase === Phase.AWAITING_CONFIRMATION) set({ secret: r.secretId }, Math.max(0, s.takenAt - r.phaseSince.getTime()) / 1000);
    },
  );
  gauge('rotor_rotation_phase_age_seconds', 'How long a running rotation has been in its current phase.', ['secret', 'phase'], (s, set) => {
    for (const r of s.running ?? [])
      if (PHASES.has(r.phase)) set({ secret: r.secretId, phase: r.phase }, Math.max(0, s.takenAt - r.phaseSince.getTime()) / 1000);
  });
  gauge(
    'rotor_rotation_phase_limit_seconds',
    'How long the current phase of a running rotation may last before it is stuck; absent when unbounded.',
    ['secret', 'phase'],
    (s, set) => {
      for (const r of s.running ?? [])
        if (PHASES.has(r.phase) && r.limitMs !== null) set({ secret: r.secretId, phase: r.phase }, r.limitMs / 1000);
    },
  );
  gauge('rotor_incidents_active', 'Incident freezes in force (not lifted).', [], (s, set) => {
    if (s.incidentsActive !== undefined) set({}, s.incidentsActive);
  });
  gauge(
    'rotor_break_glass_grants_active',
    'Break-glass grants issued and not yet revoked (revocation verified at the target).',
    [],
    (s, set) => {
      if (s.grants) set({}, s.grants.length);
    },
  );
  gauge(
    'rotor_break_glass_grant_expiry_timestamp_seconds',
    'When each active break-glass grant reaches its TTL (unix seconds).',
    ['secret', 'request'],
    (s, set) => {
      for (const g of s.grants ?? [])
        if (g.expiresAt !== null) set({ secret: g.secretId, request: ID_LABEL.test(g.requestId) ? g.requestId : 'invalid' }, g.expiresAt);
    },
  );

  const providerOf = async (secretId: string | undefined): Promise<string> => {
    if (!secretId) return UNKNOWN_PROVIDER;
    const spec = (await ctx.inventory.current()).secrets.find((s) => s.id === secretId);
    return spec?.provider.type ?? UNKNOWN_PROVIDER;
  };

  /** A run ended: count it, and time its phases from its audit rows (all committed before this one). */
  const finished = async (row: ObservedAuditRow) => {
    const provider = await providerOf(row.secretId);
    const raw = row.detail?.outcome;
    const outcome = typeof raw === 'string' && OUTCOMES.has(raw) ? raw : 'other';
    rotations.inc({ provider, outcome });
    if (!row.workflowId || !row.runId) return;
    const { rows } = await ctx.db.query<RunRow>('SELECT step, outcome, at FROM audit_log WHERE run_id = $1 AND workflow_id = $2', [
      row.runId,
      row.workflowId,
    ]);
    const started = rows.find((r) => r.step === 'rotation_started');
    if (started) rotationDuration.observe({ outcome }, Math.max(0, row.at.getTime() - started.at.getTime()) / 1000);
    const spec = (await ctx.inventory.current()).secrets.find((s) => s.id === row.secretId);
    for (const p of phaseDurations(rows, spec?.overlap)) phaseDuration.observe({ phase: p.phase }, p.seconds);
  };

  const unsubscribe = observeAuditLog(ctx.db, (row) => {
    if ((row.step === 'promote' || row.step === 'rollback') && row.outcome === 'succeeded') {
      sources.credentialsChanged();
      cached = undefined;
    }
    const work =
      row.step === 'rotation_finished'
        ? finished(row)
        : row.step === 'rollback' && row.outcome === 'succeeded'
          ? providerOf(row.secretId).then((provider) => void rollbacks.inc({ provider }))
          : undefined;
    work?.catch((err: unknown) => sourceFailed(MetricSource.AUDIT_LOG, err));
  });

  return { registry, ready, sourceFailed, stop: unsubscribe };
}

/**
 * Gathers the facts of the secret-debt report with the operator's own credentials: KV metadata
 * (versions and their times, never a value), rotor's audit log (read-only login), Temporal (the
 * last run as `rotor status` shows it, schedules), and Vault's lease list where the token may see it.
 */
import { lastSuccessfulRotations } from '../activities/audit/last-successes.js';
import type pg from 'pg';
import type { Inventory, SecretSpec } from '../config/inventory-schema.js';
import { rotationScheduleId } from '../workflows/contracts.js';
import { VaultRequestError } from '../vault/vault-error.js';
import type { CliContext } from './cli-context.js';
import {
  ageSeconds,
  compliance,
  credentialSince,
  FAILED_OUTCOMES,
  FAILURE_WINDOW_DAYS,
  isLongLived,
  LONG_LIVED_LEASE_SECONDS,
  ownerScores,
  type DebtReport,
  type Failures,
  type LastRotation,
  type LeaseInfo,
  type LeaseReport,
  type SecretDebt,
  type UnmanagedPath,
} from './debt-report.js';
import { operatorVaultError } from './operator-session.js';
import { cadenceInterval } from './cadence-interval.js';
import { describeCadence } from '../schedules/schedule-changes.js';

/** A secret's latest `rotate/<id>` run, as `rotor status` shows it. */
export interface RotationRun {
  workflowId: string;
  runId: string;
  status: string;
  outcome: string | null;
  startedAt: string;
  closedAt: string | null;
}

/** What the debt report takes from `rotor status` (collectStatus), so both show the same last run. */
export interface StatusFacts {
  id: string;
  currentVersion: number | null;
  lastRotation: RotationRun | null;
  schedulePaused: boolean | null;
}

/** Runs `fn` over `items`, at most `limit` at a time, keeping the order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

interface AuditFacts {
  lastSuccessAt: Map<string, string>;
  lastFinished: Map<string, LastRotation>;
  failures: Map<string, Failures>;
}

/** rotation_finished rows: the last success, the last end, and failures in the window, per secret. */
async function auditFacts(pool: pg.Pool, secretIds: string[], now: Date): Promise<AuditFacts> {
  const since = new Date(now.getTime() - FAILURE_WINDOW_DAYS * 86_400_000);
  const [success, finished, failed] = await Promise.all([
    lastSuccessfulRotations(pool, secretIds),
    pool.query<{ secret_id: string; at: Date; result: string | null; workflow_id: string | null; run_id: string | null }>(
      `SELECT DISTINCT ON (secret_id) secret_id, at, detail->>'outcome' AS result, workflow_id, run_id FROM audit_log
        WHERE step = 'rotation_finished' AND secret_id = ANY($1::text[])
        ORDER BY secret_id, seq DESC`,
      [secretIds],
    ),
    pool.query<{ secret_id: string; at: Date; result: string | null; reason: string | null }>(
      `SELECT secret_id, at, detail->>'outcome' AS result, detail->>'reason' AS reason FROM audit_log
        WHERE step = 'rotation_finished' AND outcome = 'failed' AND at >= $2
          AND secret_id = ANY($1::text[]) AND coalesce(detail->>'outcome', 'failed') = ANY($3::text[])
        ORDER BY seq`,
      [secretIds, since, [...FAILED_OUTCOMES]],
    ),
  ]);
  const failures = new Map<string, Failures>();
  for (const row of failed.rows) {
    const outcome = row.result ?? 'failed';
    const f = failures.get(row.secret_id) ?? { count: 0, byOutcome: {}, last: null };
    f.count++;
    f.byOutcome[outcome] = (f.byOutcome[outcome] ?? 0) + 1;
    f.last = { at: row.at.toISOString(), outcome, reason: row.reason };
    failures.set(row.secret_id, f);
  }
  return {
    lastSuccessAt: new Map([...success].map(([id, at]) => [id, at.toISOString()])),
    lastFinished: new Map(
      finished.rows.map((r) => [
        r.secret_id,
        { at: r.at.toISOString(), outcome: r.result, status: null, workflowId: r.workflow_id, runId: r.run_id, source: 'audit' as const },
      ]),
    ),
    failures,
  };
}

/** The cron schedule's next action times, when rotor cannot evaluate the expression itself. */
async function scheduleTimes(ctx: CliContext, spec: SecretSpec): Promise<Date[]> {
  if (!spec.cadence?.cron) return [];
  try {
    return (await ctx.client.schedule.getHandle(rotationScheduleId(spec.id)).describe()).info.nextActionTimes;
  } catch {
    return [];
  }
}

async function secretDebt(
  ctx: CliContext,
  spec: SecretSpec,
  status: StatusFacts | undefined,
  audit: AuditFacts,
  now: Date,
): Promise<SecretDebt> {
  const mount = ctx.env.ROTOR_VAULT_KV_MOUNT;
  const meta = await ctx.session.vault.kvMetadata(mount, spec.path).catch((err: unknown) => {
    throw operatorVaultError(err, `reading the versions of ${spec.id} (${mount}/metadata/${spec.path})`);
  });
  const times = meta ? credentialSince(meta) : { versionCreatedAt: null, credentialSince: null };
  const t = status?.lastRotation;
  const lastRotation: LastRotation | null = t
    ? { at: t.closedAt ?? t.startedAt, outcome: t.outcome, status: t.status, workflowId: t.workflowId, runId: t.runId, source: 'temporal' }
    : (audit.lastFinished.get(spec.id) ?? null);
  const lastSuccessAt = audit.lastSuccessAt.get(spec.id) ?? null;
  const intervalMs = spec.cadence ? cadenceInterval(spec.cadence, now, await scheduleTimes(ctx, spec)) : undefined;
  const { compliance: c, dueBy } = compliance(
    {
      cadence: spec.cadence,
      schedulePaused: status?.schedulePaused ?? null,
      intervalMs,
      lastSuccessAt,
      credentialSince: times.credentialSince,
    },
    now,
  );
  return {
    id: spec.id,
    path: spec.path,
    owner: spec.owner,
    currentVersion: meta?.current_version ?? null,
    ...times,
    ageSeconds: ageSeconds(times.credentialSince, now),
    lastRotation,
    lastSuccessAt,
    cadence: spec.cadence ? describeCadence(spec.cadence) : null,
    intervalSeconds: intervalMs === undefined ? null : Math.round(intervalMs / 1000),
    compliance: c,
    dueBy,
    consumers: spec.consumers.map((x) => ({ name: x.name, mode: x.confirm.mode })),
    failures30d: audit.failures.get(spec.id) ?? { count: 0, byOutcome: {}, last: null },
  };
}

/** Every KV path under the mount (LIST metadata, recursively), rotor's own `_rotor/` left out. */
async function kvPaths(ctx: CliContext, folder = ''): Promise<string[]> {
  const mount = ctx.env.ROTOR_VAULT_KV_MOUNT;
  const keys = await ctx.session.vault.kvList(mount, folder).catch((err: unknown) => {
    throw operatorVaultError(err, `listing ${mount}/metadata/${folder}`);
  });
  const out: string[] = [];
  for (const key of keys) {
    const path = `${folder}${key}`;
    if (path === '_rotor/') continue;
    if (key.endsWith('/')) out.push(...(await kvPaths(ctx, path)));
    else out.push(path);
  }
  return out;
}

async function unmanagedPaths(ctx: CliContext, inventory: Inventory, now: Date): Promise<UnmanagedPath[]> {
  const managed = new Set(inventory.secrets.map((s) => s.path));
  const mount = ctx.env.ROTOR_VAULT_KV_MOUNT;
  const paths = (await kvPaths(ctx)).filter((p) => !managed.has(p)).sort();
  return mapLimit(paths, 16, async (path): Promise<UnmanagedPath> => {
    const meta = await ctx.session.vault.kvMetadata(mount, path).catch((err: unknown) => {
      throw operatorVaultError(err, `reading the versions of ${mount}/metadata/${path}`);
    });
    const current = meta?.versions[String(meta.current_version)];
    const createdAt = current?.created_time ?? null;
    return {
      path,
      currentVersion: meta?.current_version || null,
      createdAt,
      ageSeconds: ageSeconds(createdAt, now),
      deleted: current ? current.destroyed || (current.deletion_time !== '' && Date.parse(current.deletion_time) <= now.getTime()) : false,
    };
  });
}

/**
 * Long-lived leases, when the token may list them: `LIST sys/leases/lookup/…` needs sudo, which
 * rotor's operator policy does not grant; with it refused the report says so instead of failing.
 */
async function leaseReport(ctx: CliContext, now: Date): Promise<LeaseReport> {
  const vault = ctx.session.vault;
  let ids: string[];
  try {
    ids = await vault.listLeases('');
  } catch (err) {
    if (err instanceof VaultRequestError && err.status === 403)
      return {
        visible: false,
        reason: 'not visible with your token (listing sys/leases/lookup/ needs sudo, which the rotor-operator policy does not grant)',
      };
    throw operatorVaultError(err, 'listing leases (sys/leases/lookup/)');
  }
  const looked = await mapLimit(ids, 16, async (id): Promise<LeaseInfo | undefined> => {
    try {
      const d = (
        await vault.request<{ data: { issue_time: string; expire_time: string | null; ttl: number } }>('PUT', 'sys/leases/lookup', {
          lease_id: id,
        })
      ).data;
      return {
        id,
        issueTime: d.issue_time,
        expireTime: d.expire_time,
        ttlSeconds: d.ttl,
        ageSeconds: ageSeconds(d.issue_time, now) ?? 0,
      };
    } catch {
      return undefined; // expired or revoked between the list and the lookup
    }
  });
  const leases = looked.filter((l): l is LeaseInfo => l !== undefined);
  return {
    visible: true,
    thresholdSeconds: LONG_LIVED_LEASE_SECONDS,
    total: leases.length,
    longLived: leases.filter((l) => isLongLived(l)).sort((a, b) => b.ageSeconds - a.ageSeconds),
  };
}

/**
 * The debt report. `status` holds `rotor status`'s rows (collectStatus) for the last run and the
 * schedule's paused state; `pool` is a read-only login to the audit database.
 */
export async function collectDebt(
  ctx: CliContext,
  args: { status: StatusFacts[]; pool: pg.Pool; unmanaged: boolean; leases: boolean; now?: Date },
): Promise<DebtReport> {
  const now = args.now ?? new Date();
  const inventory = await ctx.inventory();
  const audit = await auditFacts(
    args.pool,
    inventory.secrets.map((s) => s.id),
    now,
  );
  const secrets = await mapLimit(inventory.secrets, 16, (spec) =>
    secretDebt(
      ctx,
      spec,
      args.status.find((r) => r.id === spec.id),
      audit,
      now,
    ),
  );
  const [unmanaged, leases] = await Promise.all([
    args.unmanaged ? unmanagedPaths(ctx, inventory, now) : null,
    args.leases ? leaseReport(ctx, now) : null,
  ]);
  return {
    generatedAt: now.toISOString(),
    kvMount: ctx.env.ROTOR_VAULT_KV_MOUNT,
    failureWindowDays: FAILURE_WINDOW_DAYS,
    secrets,
    unmanaged,
    leases,
    owners: ownerScores(secrets),
  };
}

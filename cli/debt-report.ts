/**
 * The secret-debt report (`rotor report debt`, and the owner lines of `rotor status`): where the
 * vault still compensates for static secrets — how old they are, which have no cadence, which are
 * overdue, which fail. Pure computation and formatting only: the facts are gathered by
 * cli/debt-sources.ts (KV metadata, the audit log, Temporal), never a secret value.
 */
import type { SecretSpec } from '../config/inventory-schema.js';

/** How far back failures count. */
export const FAILURE_WINDOW_DAYS = 30;
/** A rotation is on time while the last success is at most this many cadence intervals ago. */
export const COMPLIANCE_TOLERANCE = 1.5;
/** A lease whose whole life (issue → expiry) exceeds this, or that never expires, is long-lived. */
export const LONG_LIVED_LEASE_SECONDS = 24 * 3600;

/** Whether a secret rotates as often as its cadence says. */
export const Compliance = {
  /** The last successful rotation (else the current credential's creation) is within 1.5 × the interval. */
  OK: 'ok',
  /** It is not, or the secret has no version at all. */
  OVERDUE: 'overdue',
  /** The inventory gives no cadence: nothing rotates it but a person. */
  NO_CADENCE: 'no cadence',
  /** The cadence is paused (in the inventory or on its Temporal schedule). */
  PAUSED: 'paused',
  /** A cron expression rotor cannot evaluate, and no Temporal schedule to ask for its next runs. */
  UNKNOWN: 'unknown',
} as const;
export type Compliance = (typeof Compliance)[keyof typeof Compliance];

/** Rotation outcomes (the audit log's rotation_finished rows, `detail.outcome`) that count as failures. */
export const FAILED_OUTCOMES = ['rolled_back', 'aborted', 'revocation_failed', 'failed'] as const;

export interface LastRotation {
  /** When it ended (or started, while it runs). */
  at: string;
  /** rotated | rolled_back | aborted | skipped | revocation_failed, or null while running / unknown. */
  outcome: string | null;
  /** Temporal's execution status (COMPLETED, RUNNING, FAILED, …), or null when only the audit log knows the run. */
  status: string | null;
  workflowId: string | null;
  runId: string | null;
  /** Where it was found: Temporal (as `rotor status` shows it), else the audit log (past Temporal's retention). */
  source: 'temporal' | 'audit';
}

export interface Failures {
  count: number;
  /** Failures per outcome, e.g. { rolled_back: 2 }. */
  byOutcome: Record<string, number>;
  last: { at: string; outcome: string; reason: string | null } | null;
}

export interface SecretDebt {
  id: string;
  path: string;
  owner: string;
  currentVersion: number | null;
  /** created_time of the current KV version. */
  versionCreatedAt: string | null;
  /**
   * Since when consumers have used the current value: versionCreatedAt, or, when the current
   * version is a rollback's copy (KV custom metadata rotor_restored_version), the created_time of
   * the version it restored.
   */
  credentialSince: string | null;
  /** now − credentialSince, in seconds (null: no version yet). */
  ageSeconds: number | null;
  lastRotation: LastRotation | null;
  /** When the last rotation that ended `rotated` finished (audit log). */
  lastSuccessAt: string | null;
  /** "every 1h", 'cron "0 3 * * 0"' (", jitter 5m", ", paused"), or null. */
  cadence: string | null;
  /** The cadence interval in seconds (cron: the longest gap among its next runs). */
  intervalSeconds: number | null;
  compliance: Compliance;
  /** When an ok secret becomes overdue (reference + 1.5 × interval). */
  dueBy: string | null;
  consumers: { name: string; mode: string }[];
  failures30d: Failures;
}

export interface UnmanagedPath {
  path: string;
  currentVersion: number | null;
  createdAt: string | null;
  ageSeconds: number | null;
  /** The current version is soft-deleted or destroyed. */
  deleted: boolean;
}

export interface LeaseInfo {
  id: string;
  issueTime: string;
  expireTime: string | null;
  ttlSeconds: number;
  ageSeconds: number;
}

export type LeaseReport =
  | { visible: true; thresholdSeconds: number; total: number; longLived: LeaseInfo[] }
  | { visible: false; reason: string };

export interface OwnerScore {
  owner: string;
  secrets: number;
  overdue: number;
  withoutCadence: number;
  paused: number;
  failures30d: number;
  oldestAgeSeconds: number | null;
  /** 3·overdue + 2·without cadence + 1·paused + 1·failure in 30 days; 0 is clean. */
  debt: number;
  /** The same as one line of text. */
  line: string;
}

export interface DebtReport {
  generatedAt: string;
  kvMount: string;
  failureWindowDays: number;
  secrets: SecretDebt[];
  /** KV paths under the mount (outside _rotor/) that no inventory secret names; null when not listed. */
  unmanaged: UnmanagedPath[] | null;
  /** null when not looked at. */
  leases: LeaseReport | null;
  owners: OwnerScore[];
}

// --- durations --------------------------------------------------------------------------------

/** An age, rounded down to its largest unit: "42d", "5h", "12m", "30s". */
export function formatAge(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds >= 86_400) return `${Math.floor(seconds / 86_400)}d`;
  if (seconds >= 3600) return `${Math.floor(seconds / 3600)}h`;
  if (seconds >= 60) return `${Math.floor(seconds / 60)}m`;
  return `${Math.max(0, Math.floor(seconds))}s`;
}

// --- compliance -------------------------------------------------------------------------------

export interface ComplianceInput {
  cadence: SecretSpec['cadence'];
  /** The Temporal schedule is paused (null: no schedule). */
  schedulePaused: boolean | null;
  intervalMs: number | undefined;
  lastSuccessAt: string | null;
  credentialSince: string | null;
}

/**
 * `no cadence` without one; `paused` when the inventory or the schedule pauses it; `unknown` when
 * the interval cannot be known; else `ok` while now − reference ≤ 1.5 × interval, where the
 * reference is the last successful rotation, or (never rotated) when the current credential was
 * written; `overdue` otherwise (and when there is no version at all).
 */
export function compliance(input: ComplianceInput, now: Date): { compliance: Compliance; dueBy: string | null } {
  if (!input.cadence) return { compliance: Compliance.NO_CADENCE, dueBy: null };
  if (input.cadence.paused || input.schedulePaused === true) return { compliance: Compliance.PAUSED, dueBy: null };
  if (input.intervalMs === undefined) return { compliance: Compliance.UNKNOWN, dueBy: null };
  const reference = input.lastSuccessAt ?? input.credentialSince;
  if (reference === null) return { compliance: Compliance.OVERDUE, dueBy: null };
  const due = new Date(Date.parse(reference) + COMPLIANCE_TOLERANCE * input.intervalMs);
  return { compliance: now <= due ? Compliance.OK : Compliance.OVERDUE, dueBy: due.toISOString() };
}

/** Since when the current value is in use: a rollback's copy is as old as the version it restored. */
export function credentialSince(meta: {
  current_version: number;
  custom_metadata: Record<string, string> | null;
  versions: Record<string, { created_time: string }>;
}): { versionCreatedAt: string | null; credentialSince: string | null } {
  const created = meta.versions[String(meta.current_version)]?.created_time ?? null;
  const cm = meta.custom_metadata ?? {};
  const restoredFrom = cm.rotor_restored_version === String(meta.current_version) ? cm.rotor_restored_from_version : undefined;
  const original = restoredFrom ? meta.versions[restoredFrom]?.created_time : undefined;
  return { versionCreatedAt: created, credentialSince: original ?? created };
}

export function ageSeconds(since: string | null, now: Date): number | null {
  return since === null ? null : Math.max(0, Math.floor((now.getTime() - Date.parse(since)) / 1000));
}

// --- leases -----------------------------------------------------------------------------------

/** Long-lived: no expiry, or a whole life (issue → expiry, renewals included) beyond the threshold. */
export function isLongLived(lease: { issueTime: string; expireTime: string | null }, thresholdSeconds = LONG_LIVED_LEASE_SECONDS): boolean {
  if (lease.expireTime === null) return true;
  return (Date.parse(lease.expireTime) - Date.parse(lease.issueTime)) / 1000 > thresholdSeconds;
}

// --- owners -----------------------------------------------------------------------------------

/** One score per owner, worst first (then by name). */
export function ownerScores(secrets: SecretDebt[]): OwnerScore[] {
  const by = new Map<string, SecretDebt[]>();
  for (const s of secrets) by.set(s.owner, [...(by.get(s.owner) ?? []), s]);
  return [...by.entries()]
    .map(([owner, list]) => {
      const count = (c: Compliance) => list.filter((s) => s.compliance === c).length;
      const ages = list.map((s) => s.ageSeconds).filter((a): a is number => a !== null);
      const score = {
        owner,
        secrets: list.length,
        overdue: count(Compliance.OVERDUE),
        withoutCadence: count(Compliance.NO_CADENCE),
        paused: count(Compliance.PAUSED),
        failures30d: list.reduce((n, s) => n + s.failures30d.count, 0),
        oldestAgeSeconds: ages.length ? Math.max(...ages) : null,
      };
      const debt = 3 * score.overdue + 2 * score.withoutCadence + score.paused + score.failures30d;
      const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
      const line =
        `${owner}: debt ${debt} — ${plural(score.secrets, 'secret')}, ${score.overdue} overdue, ${score.withoutCadence} without cadence, ` +
        `${score.paused} paused, ${plural(score.failures30d, 'failure')} in ${FAILURE_WINDOW_DAYS}d, oldest ${formatAge(score.oldestAgeSeconds)}`;
      return { ...score, debt, line };
    })
    .sort((a, b) => b.debt - a.debt || a.owner.localeCompare(b.owner));
}

// --- output -----------------------------------------------------------------------------------

function lastText(s: SecretDebt): string {
  if (!s.lastRotation) return 'never';
  return `${s.lastRotation.outcome ?? s.lastRotation.status?.toLowerCase() ?? '?'} ${s.lastRotation.at.slice(0, 16).replace('T', ' ')}`;
}

function failuresText(f: Failures): string {
  if (f.count === 0) return '0';
  return `${f.count} (${Object.entries(f.byOutcome)
    .map(([o, n]) => `${n} ${o}`)
    .join(', ')})`;
}

const consumersText = (s: SecretDebt) => (s.consumers.length ? s.consumers.map((c) => `${c.name}:${c.mode}`).join(' ') : '-');

const HEADERS = ['SECRET', 'OWNER', 'AGE', 'LAST ROTATION', 'CADENCE', 'COMPLIANCE', 'CONSUMERS', `FAILURES ${FAILURE_WINDOW_DAYS}D`];

function secretCells(s: SecretDebt): string[] {
  return [
    s.id,
    s.owner,
    formatAge(s.ageSeconds),
    lastText(s),
    s.cadence ?? '-',
    s.compliance,
    consumersText(s),
    failuresText(s.failures30d),
  ];
}

function leaseLines(leases: LeaseReport | null): string[] {
  if (!leases) return [];
  if (!leases.visible) return [`long-lived leases: ${leases.reason}`];
  const head = `long-lived leases (life > ${formatAge(leases.thresholdSeconds)} or no expiry): ${leases.longLived.length} of ${leases.total}`;
  return [head, ...leases.longLived.map((l) => `  ${l.id}  age ${formatAge(l.ageSeconds)}  expires ${l.expireTime ?? 'never'}`)];
}

/** The default output: aligned columns, then unmanaged paths, leases and one score line per owner. */
export function formatTable(report: DebtReport): string {
  const rows = [HEADERS, ...report.secrets.map(secretCells)];
  const widths = HEADERS.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const out = rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
  if (report.unmanaged) {
    out.push('', `unmanaged under ${report.kvMount}/ (no inventory secret names them): ${report.unmanaged.length}`);
    for (const u of report.unmanaged)
      out.push(`  ${u.path}  v${u.currentVersion ?? '-'}  age ${formatAge(u.ageSeconds)}${u.deleted ? '  (current version deleted)' : ''}`);
  }
  const leases = leaseLines(report.leases);
  if (leases.length) out.push('', ...leases);
  out.push('', 'owners:', ...report.owners.map((o) => `  ${o.line}`));
  return out.join('\n');
}

const md = (text: string) => text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\n/g, ' ');
const mdRow = (cells: string[]) => `| ${cells.map(md).join(' | ')} |`;

/** GitHub-flavoured Markdown: a secrets table, unmanaged paths, leases, owner scores. */
export function formatMarkdown(report: DebtReport): string {
  const out = [
    `# Secret debt (${report.generatedAt})`,
    '',
    mdRow(HEADERS.map((h) => h.toLowerCase())),
    `|${HEADERS.map(() => ' --- |').join('')}`,
    ...report.secrets.map((s) => mdRow(secretCells(s))),
  ];
  if (report.unmanaged) {
    out.push('', `## Unmanaged KV paths under \`${report.kvMount}/\``, '');
    if (report.unmanaged.length === 0) out.push('None.');
    else
      out.push(
        mdRow(['path', 'version', 'age']),
        '| --- | --- | --- |',
        ...report.unmanaged.map((u) =>
          mdRow([u.path + (u.deleted ? ' (deleted)' : ''), String(u.currentVersion ?? '-'), formatAge(u.ageSeconds)]),
        ),
      );
  }
  if (report.leases) {
    out.push('', '## Long-lived leases', '');
    if (!report.leases.visible) out.push(md(report.leases.reason));
    else if (report.leases.longLived.length === 0)
      out.push(`None of ${report.leases.total} leases lives longer than ${formatAge(report.leases.thresholdSeconds)}.`);
    else
      out.push(
        mdRow(['lease', 'age', 'expires']),
        '| --- | --- | --- |',
        ...report.leases.longLived.map((l) => mdRow([l.id, formatAge(l.ageSeconds), l.expireTime ?? 'never'])),
      );
  }
  out.push('', '## Owners', '', ...report.owners.map((o) => `- ${md(o.line)}`));
  return out.join('\n');
}

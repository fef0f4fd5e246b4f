import type { CliContext } from '../cli-context.js';
import { usageError } from '../cli-error.js';
import { formatMarkdown, formatTable } from '../debt-report.js';
import { collectDebt } from '../debt-sources.js';
import { operatorDatabasePool } from '../operator-database.js';
import { collectStatus } from './status.js';

export const reportHelp = `usage: rotor report debt [--json | --markdown]

Secret debt: where static secrets still linger. Per inventory secret its age, last rotation and
outcome, cadence and compliance, consumers and their confirm modes, failed rotations in the last
30 days; the KV paths under rotor's mount that no inventory secret manages; long-lived leases;
one score line per owner. Reads KV metadata, never a value, with your own Vault token.

Definitions:
  age          now − created_time of the current KV version; when that version is a rollback's
               copy, of the version it restored (the credential is that old)
  last rotation  the last rotate/<secret> run as 'rotor status' shows it (Temporal), else, past
               Temporal's retention, the audit log's last rotation_finished row
  compliance   no cadence | paused (inventory or schedule) | ok: the last successful rotation
               (audit log; never rotated: the current credential's creation) is at most 1.5 ×
               the cadence interval ago | overdue | unknown (a cron rotor cannot evaluate).
               Interval: 'every' as given; cron: the longest gap between its next 8 runs (UTC)
  failures     rotations that ended rolled_back, aborted or revocation_failed in the last 30
               days (the audit log's rotation_finished rows; skipped runs are not failures)
  unmanaged    KV paths under the mount (LIST metadata, recursively, _rotor/ left out) that no
               inventory secret's path names, with their age
  leases       leases whose life (issue → expiry) exceeds 24h or that never expire; listing
               leases needs sudo, which rotor-operator lacks: then "not visible with your token"
  debt score   per owner: 3 × overdue + 2 × without cadence + 1 × paused + 1 × failure in 30 days
               (0 is clean), with the owner's oldest credential age

--markdown prints the same as GitHub-flavoured Markdown tables.
--json prints one object with these stable fields:
  generatedAt, kvMount, failureWindowDays (30),
  secrets: [{id, path, owner, currentVersion, versionCreatedAt, credentialSince, ageSeconds,
    lastRotation ({at, outcome, status, workflowId, runId, source: temporal|audit}|null),
    lastSuccessAt, cadence (text|null), intervalSeconds, compliance, dueBy,
    consumers: [{name, mode}], failures30d: {count, byOutcome, last: {at, outcome, reason}|null}}],
  unmanaged: [{path, currentVersion, createdAt, ageSeconds, deleted}],
  leases: {visible: true, thresholdSeconds, total, longLived: [{id, issueTime, expireTime,
    ttlSeconds, ageSeconds}]} | {visible: false, reason},
  owners: [{owner, secrets, overdue, withoutCadence, paused, failures30d, oldestAgeSeconds, debt, line}]`;

export async function report(ctx: CliContext, args: { sub: string | undefined; json: boolean; markdown: boolean }): Promise<number> {
  if (args.sub !== 'debt')
    throw usageError(args.sub ? `unknown report "${args.sub}"` : 'missing <report>', "the one report is 'rotor report debt'");
  if (args.json && args.markdown) throw usageError('--json and --markdown exclude each other', 'give one of them');
  const pool = await operatorDatabasePool(ctx.session.vault, ctx.env);
  try {
    const status = await collectStatus(ctx, []);
    const debt = await collectDebt(ctx, { status, pool, unmanaged: true, leases: true });
    console.log(args.json ? JSON.stringify(debt, null, 2) : args.markdown ? formatMarkdown(debt) : formatTable(debt));
    return 0;
  } finally {
    await pool.end();
  }
}

import { readAuditAnchor } from '../../activities/audit/audit-anchor.js';
import { verifyAudit } from '../../activities/audit/verify-audit.js';
import { pendingPath } from '../../activities/rotation/secret-handle.js';
import type { RotationResult } from '../../workflows/rotation-types.js';
import { kvVersion, roleNames, type DbCredential } from '../helpers/rotation-fixtures.js';
import { canLogin, superuserClient, type StackConnection } from '../helpers/test-stack.js';

/** What a rotation under faults must leave behind, checked at the servers themselves. */
export interface RotationCheck {
  secretId: string;
  /** The run that rotated (its staged credential lives under its run id). */
  runId: string;
  workflowId: string;
  /** The credential that was current before the rotation. */
  before: { version: number; data: DbCredential };
  result: RotationResult;
}

const ENDINGS = new Set(['rotated', 'rolled_back', 'aborted']);

/**
 * The invariants of docs/invariants.md, as a user would check them: the workflow ended rotated,
 * rolled back or aborted; the version it names as current is current in Vault and logs in; the
 * previous credential is refused exactly when the outcome says it was revoked; no staged credential
 * is left in Vault or at the target; the audit chain verifies with one success row per step.
 */
export async function rotationViolations(stack: StackConnection, check: RotationCheck): Promise<string[]> {
  const v: string[] = [];
  const { result, secretId } = check;
  if (!ENDINGS.has(result.outcome)) return [`${secretId}: ended ${result.outcome}: ${JSON.stringify(result)}`];
  const current = await kvVersion(stack, secretId);
  const claimed =
    result.outcome === 'rotated'
      ? result.toVersion
      : result.outcome === 'rolled_back'
        ? result.restoredVersion
        : ((result as { currentVersion?: number }).currentVersion ?? check.before.version);
  if (current.version !== claimed)
    v.push(`${secretId}: outcome ${result.outcome} names version ${claimed} as current, Vault has ${current.version}`);
  if (!(await canLogin(stack.file, current.data.username, current.data.password)))
    v.push(`${secretId}: the current version ${current.version} (${current.data.username}) does not log in`);
  const oldWorks = await canLogin(stack.file, check.before.data.username, check.before.data.password);
  const oldIsCurrent = current.data.username === check.before.data.username && current.data.password === check.before.data.password;
  if (result.outcome === 'rotated' && oldWorks) v.push(`${secretId}: rotated, yet the previous credential still logs in`);
  if (result.outcome !== 'rotated' && !oldIsCurrent) v.push(`${secretId}: ${result.outcome}, yet the previous credential is not current`);
  if (result.outcome !== 'rotated' && !oldWorks) v.push(`${secretId}: ${result.outcome}, yet the previous credential is refused`);

  // No staged credential left: not at its pending path, and no login on the role not in use.
  const staged = await stack.rootVault.kvMetadata('rotor', pendingPath(secretId, check.runId));
  if (staged && staged.current_version > 0 && !staged.versions?.[String(staged.current_version)]?.deletion_time)
    v.push(`${secretId}: the staged credential is still at ${pendingPath(secretId, check.runId)}`);
  const pending = result.outcome === 'rolled_back' ? result.pendingRevocation : undefined;
  const other = roleNames(secretId).find((r) => r !== current.data.username);
  const su = await superuserClient(stack.file, 'demo');
  try {
    const row = await su.query<{ has_password: boolean }>(
      'SELECT rolpassword IS NOT NULL AS has_password FROM pg_authid WHERE rolname = $1',
      [other],
    );
    if (row.rows[0]?.has_password && !pending) v.push(`${secretId}: role ${other} (not in use) still has a password at the target`);
  } finally {
    await su.end();
  }
  v.push(...(await auditViolations(stack, check.workflowId, check.runId)));
  // The steps the outcome says happened each have their success row (a recovered step still audits).
  const expected = result.outcome === 'rotated' ? ['promote', 'revoke'] : result.outcome === 'rolled_back' ? ['rollback'] : [];
  const db = await superuserClient(stack.file, 'rotor');
  try {
    // A promotion recovered by find_promotion (it failed after its KV write) is audited there.
    const rows = await db.query<{ step: string }>(
      `SELECT DISTINCT CASE WHEN step = 'find_promotion' AND detail->>'promoted' = 'true' THEN 'promote' ELSE step END AS step
         FROM audit_log WHERE workflow_id = $1 AND run_id = $2 AND outcome = 'succeeded'`,
      [check.workflowId, check.runId],
    );
    const have = new Set(rows.rows.map((r) => r.step));
    for (const step of expected) if (!have.has(step)) v.push(`${secretId}: ${result.outcome}, but no success row for ${step}`);
  } finally {
    await db.end();
  }
  return v;
}

/**
 * The chain verifies, and no step of the run has two success rows for the same actor and item (a
 * retried step landed twice): an incident report has one row per secret and lease folder, a
 * break-glass request one per approver.
 */
export async function auditViolations(stack: StackConnection, workflowId: string, runId?: string): Promise<string[]> {
  const v: string[] = [];
  const db = await superuserClient(stack.file, 'rotor');
  try {
    const chain = await verifyAudit(db, {
      vault: stack.rootVault,
      anchor: (await readAuditAnchor(stack.rootVault, stack.env.ROTOR_VAULT_KV_MOUNT)).anchor,
    });
    if (!chain.ok) v.push(`audit chain broken at seq ${chain.firstBadSeq}: ${chain.problem}`);
    const dup = await db.query<{ step: string; n: string }>(
      `SELECT step, count(*) AS n FROM audit_log WHERE workflow_id = $1 AND ($2::text IS NULL OR run_id = $2)
         AND outcome = 'succeeded' AND step NOT IN ('confirmation')
       GROUP BY run_id, step, actor, secret_id, detail->>'prefix' HAVING count(*) > 1`,
      [workflowId, runId ?? null],
    );
    for (const r of dup.rows) v.push(`${workflowId}: step ${r.step} has ${r.n} success rows`);
    const finished = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM audit_log WHERE workflow_id = $1 AND ($2::text IS NULL OR run_id = $2) AND step = 'rotation_finished'`,
      [workflowId, runId ?? null],
    );
    if (runId && Number(finished.rows[0]?.n) !== 1) v.push(`${workflowId}: ${finished.rows[0]?.n ?? 0} rotation_finished rows, expected 1`);
  } finally {
    await db.end();
  }
  return v;
}

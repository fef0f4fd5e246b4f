import { MalformedAnchorError, readAuditAnchor, type AuditAnchor } from '../../activities/audit/audit-anchor.js';
import { AuditKeyError } from '../../activities/audit/audit-key.js';
import { verifyAudit, type AuditVerification } from '../../activities/audit/verify-audit.js';
import type { VaultClient } from '../../vault/vault-client.js';
import { CliError } from '../cli-error.js';
import { operatorDatabasePool, type AuditDatabaseSettings } from '../operator-database.js';
import { operatorVaultError } from '../operator-session.js';

export const auditVerifyHelp = `usage: rotor audit verify [--json]

Checks rotor's audit log with your own Vault login: recomputes the hash chain, checks every row's
MAC with Vault's audit key (rows from before rows were keyed verify as legacy rows), and compares
the log with the head the workers anchor in Vault every 30 s. Exits 1 and names the first bad row
when a row was changed, deleted or forged, the chain was recomputed, or the tail was cut.

The database login is a short-lived read-only one from Vault (database/creds/rotor-auditor);
ROTOR_AUDIT_DATABASE=host:port/dbname says where rotor's database is (default: where the workers
record it in the anchor).`;

/**
 * `rotor audit verify` with the operator's Vault client (their token: the rotor-operator policy
 * lets it read the anchor, verify MACs and get a read-only audit login, never MAC a row).
 */
export async function auditVerify(vault: VaultClient, database: AuditDatabaseSettings, args: { json: boolean }): Promise<number> {
  // The anchor first: rows appended while we walk come after it, never the other way round.
  let anchor: AuditAnchor | undefined;
  let result: AuditVerification;
  try {
    const read = await readAuditAnchor(vault, database.ROTOR_VAULT_KV_MOUNT);
    anchor = read.anchor;
    if (!anchor && read.version > 0)
      return report(
        {
          ok: false,
          rows: 0,
          firstBadSeq: 0,
          problem: 'anchor_missing',
          detail: `the anchor's version ${read.version} in Vault was deleted`,
        },
        args.json,
      );
  } catch (err) {
    if (!(err instanceof MalformedAnchorError)) throw operatorVaultError(err, 'reading the audit anchor');
    result = { ok: false, rows: 0, firstBadSeq: 0, problem: 'anchor_mismatch', detail: err.message };
    return report(result, args.json);
  }
  const pool = await operatorDatabasePool(vault, database);
  try {
    result = await verifyAudit(pool, { vault, anchor });
  } catch (err) {
    if (err instanceof AuditKeyError) throw new CliError(err.message, 'your Vault policy needs rotor-operator (transit/verify)');
    throw operatorVaultError(err, 'verifying the audit log');
  } finally {
    await pool.end();
  }
  return report(result, args.json);
}

function report(result: AuditVerification, json: boolean): number {
  if (json) console.log(JSON.stringify(result));
  else if (result.ok) {
    const legacy = result.legacyRows ? ` (${result.legacyRows} legacy rows without a MAC)` : '';
    const anchored = result.anchor
      ? `anchored in Vault at row ${result.anchor.seq} (${result.anchor.at})`
      : 'no anchor in Vault yet: a cut tail is not detectable until a worker writes one';
    console.log(`audit log intact: ${result.rows} rows${legacy}, last hash ${result.lastHash.slice(0, 16)}…, ${anchored}`);
  } else
    console.log(
      `AUDIT LOG TAMPERED: ${result.problem} at row ${result.firstBadSeq} (${result.detail}); ${result.rows} rows before it verify`,
    );
  return result.ok ? 0 : 1;
}

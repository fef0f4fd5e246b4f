import pg from 'pg';
import { verifyAudit } from '../../activities/audit/verify-audit.js';
import type { CliContext } from '../cli-context.js';

export const auditVerifyHelp = `usage: rotor audit verify [--json]

Recomputes the hash chain of rotor's audit log; exits 1 and names the first bad row when a
row was changed or deleted.`;

export async function auditVerify(ctx: CliContext, args: { json: boolean }): Promise<number> {
  const pool = new pg.Pool({ connectionString: ctx.env.ROTOR_DATABASE_URL, max: 1 });
  try {
    const result = await verifyAudit(pool);
    if (args.json) console.log(JSON.stringify(result));
    else if (result.ok) console.log(`audit log intact: ${result.rows} rows, last hash ${result.lastHash.slice(0, 16)}…`);
    else
      console.log(
        `AUDIT LOG TAMPERED: ${result.problem} at row ${result.firstBadSeq} (${result.detail}); ${result.rows} rows before it verify`,
      );
    return result.ok ? 0 : 1;
  } finally {
    await pool.end();
  }
}

import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { VaultClient } from '../../vault/vault-client.js';
import { VaultRequestError } from '../../vault/vault-error.js';
import { approveUpdate, breakGlassStatusQuery, breakGlassWorkflowId, denyUpdate, revokeUpdate } from '../../workflows/contracts.js';
import { breakGlass } from '../../workflows/break-glass.js';
import type { BreakGlassStatus } from '../../workflows/break-glass-types.js';
import type { CliContext } from '../cli-context.js';
import { CliError, usageError } from '../cli-error.js';

export const breakGlassHelp = `usage: rotor break-glass <command> ...

  request <policy> --ttl <15m> --justification <text> [--as <name>]   ask for emergency access
  approve <request> [--as <name>] [--comment <text>]                  approve (distinct approvers)
  deny <request> --comment <why> [--as <name>]                        deny; one denial ends it
  revoke <request> [--as <name>]                                      end a grant now (requester or approver)
  unwrap <request> [--json]                                           open the granted credential (once)
  list [--json]                                                       open requests and grants

<request> is the workflow id printed by 'request' (break-glass/<policy>/<time>). --as defaults to
$USER; in production put Temporal's own authorization in front of who may send these updates.`;

const me = (as: string | undefined) => as ?? process.env.USER ?? process.env.LOGNAME ?? 'unknown';

async function update<A>(
  ctx: CliContext,
  id: string | undefined,
  definition: UpdateDefinition<BreakGlassStatus, [A]>,
  arg: A,
): Promise<BreakGlassStatus> {
  if (!id)
    throw usageError('missing <request>', "pass the workflow id printed by 'rotor break-glass request' (see 'rotor break-glass list')");
  try {
    return await ctx.client.workflow.getHandle(id).executeUpdate(definition, { args: [arg] });
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new CliError(`no break-glass request ${id}`, "see 'rotor break-glass list'");
    if (err instanceof WorkflowUpdateFailedError)
      throw new CliError(`${definition.name} refused: ${(err.cause as Error | undefined)?.message ?? err.message}`);
    throw err;
  }
}

export async function breakGlassCommand(
  ctx: CliContext,
  [sub, target]: string[],
  v: { ttl?: string; justification?: string; as?: string; comment?: string; json: boolean },
): Promise<number> {
  switch (sub) {
    case 'request': {
      if (!target)
        throw usageError(
          'missing <policy>',
          `name one of: ${(await ctx.inventory()).breakGlass.map((p) => p.id).join(', ') || 'none (add breakGlass: to the inventory)'}`,
        );
      if (!v.ttl) throw usageError('missing --ttl', 'say how long the access is needed, e.g. --ttl 15m (capped by the policy)');
      if (!v.justification)
        throw usageError('missing --justification', 'say why, e.g. --justification "payments failing, need to inspect locks"');
      const workflowId = breakGlassWorkflowId(target, new Date());
      await ctx.client.workflow.start(breakGlass, {
        taskQueue: ctx.env.ROTOR_TASK_QUEUE,
        workflowId,
        args: [{ policyId: target, requester: me(v.as), justification: v.justification, ttl: v.ttl }],
      });
      console.log(
        v.json
          ? JSON.stringify({ request: workflowId })
          : `requested ${workflowId}; approvers decide with 'rotor break-glass approve ${workflowId}'`,
      );
      return 0;
    }
    case 'approve': {
      const s = await update(ctx, target, approveUpdate, { approver: me(v.as), ...(v.comment ? { comment: v.comment } : {}) });
      console.log(`approved by ${me(v.as)}: ${s.approvals.length} approval(s)`);
      return 0;
    }
    case 'deny': {
      if (!v.comment) throw usageError('missing --comment', 'say why the request is denied');
      await update(ctx, target, denyUpdate, { approver: me(v.as), comment: v.comment });
      console.log(`denied by ${me(v.as)}`);
      return 0;
    }
    case 'revoke':
      await update(ctx, target, revokeUpdate, { by: me(v.as) });
      console.log(`revocation requested by ${me(v.as)}; the workflow revokes the lease and verifies the role is gone`);
      return 0;
    case 'unwrap': {
      if (!target) throw usageError('missing <request>', 'pass the workflow id of an approved request');
      const s = await ctx.client.workflow.getHandle(target).query(breakGlassStatusQuery);
      if (!s.grant) throw new CliError(`request ${target} has no grant (phase ${s.phase})`, 'wait for the approvals');
      try {
        const cred = await new VaultClient(ctx.env.ROTOR_VAULT_ADDR).unwrap<Record<string, string>>(s.grant.wrapToken);
        if (v.json) console.log(JSON.stringify({ ...cred, expiresAt: s.grant.expiresAt }));
        else
          console.log(
            `postgresql://${cred.username}:${cred.password}@${cred.host}:${cred.port}/${cred.database}  (valid until ${s.grant.expiresAt})`,
          );
        return 0;
      } catch (err) {
        // A wrapping token opens once: if it is already used, someone else may hold the credential.
        if (err instanceof VaultRequestError)
          throw new CliError(
            `the grant of ${target} was already unwrapped or has expired (${err.vaultErrors.join('; ')})`,
            'if it was not you, revoke it now and report it',
          );
        throw err;
      }
    }
    case 'list': {
      const rows: (BreakGlassStatus & { workflowId: string })[] = [];
      for await (const w of ctx.client.workflow.list({ query: 'WorkflowType = "breakGlass" AND ExecutionStatus = "Running"' })) {
        const s = await ctx.client.workflow
          .getHandle(w.workflowId)
          .query(breakGlassStatusQuery)
          .catch(() => undefined);
        if (s) rows.push({ ...s, workflowId: w.workflowId, grant: s.grant ? { ...s.grant, wrapToken: '[hidden]' } : undefined });
      }
      if (v.json) console.log(JSON.stringify(rows, null, 2));
      else if (!rows.length) console.log('no open break-glass requests');
      else
        for (const r of rows)
          console.log(
            `${r.workflowId}  ${r.phase}  requester ${r.requester}  approvals ${r.approvals.map((a) => a.approver).join(',') || '-'}${r.grant ? `  until ${r.grant.expiresAt}` : ''}`,
          );
      return 0;
    }
    default:
      throw usageError(
        sub ? `unknown break-glass command "${sub}"` : 'missing break-glass command',
        'use one of: request, approve, deny, revoke, unwrap, list',
      );
  }
}

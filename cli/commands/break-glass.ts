import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { VaultClient } from '../../vault/vault-client.js';
import { VaultRequestError } from '../../vault/vault-error.js';
import { operatorVaultError } from '../operator-session.js';
import { approveUpdate, breakGlassStatusQuery, breakGlassWorkflowId, denyUpdate, revokeUpdate } from '../../workflows/contracts.js';
import { breakGlass } from '../../workflows/break-glass.js';
import type { BreakGlassStatus } from '../../workflows/break-glass-types.js';
import type { CliContext } from '../cli-context.js';
import { CliError, usageError } from '../cli-error.js';

export const breakGlassHelp = `usage: rotor break-glass <command> ...

  request <policy> --ttl <15m> --justification <text>   ask for emergency access
  approve <request> [--comment <text>]                  approve (distinct approvers)
  deny <request> --comment <why>                        deny; one denial ends it
  revoke <request>                                      end a grant now (requester or approver)
  credentials <request> [--json]                        the granted credential (requester only)
  list [--json]                                         open requests and grants

<request> is the workflow id printed by 'request' (break-glass/<policy>/<time>). Every command
acts as the operator you logged in as ('rotor login'): the worker verifies a Vault identity token
minted for that one action, and the policy's identity groups decide who may request and approve.`;

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
  v: { ttl?: string; justification?: string; comment?: string; json: boolean },
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
        args: [{ policyId: target, identity: await ctx.identity(), justification: v.justification, ttl: v.ttl }],
      });
      console.log(
        v.json
          ? JSON.stringify({ request: workflowId })
          : `requested ${workflowId}; approvers decide with 'rotor break-glass approve ${workflowId}'`,
      );
      return 0;
    }
    case 'approve': {
      const s = await update(ctx, target, approveUpdate, { identity: await ctx.identity(), ...(v.comment ? { comment: v.comment } : {}) });
      console.log(`approved by ${s.approvals.at(-1)?.approver}: ${s.approvals.length} approval(s)`);
      return 0;
    }
    case 'deny': {
      if (!v.comment) throw usageError('missing --comment', 'say why the request is denied');
      const s = await update(ctx, target, denyUpdate, { identity: await ctx.identity(), comment: v.comment });
      console.log(`denied by ${s.denial?.approver}`);
      return 0;
    }
    case 'revoke': {
      const s = await update(ctx, target, revokeUpdate, { identity: await ctx.identity() });
      console.log(`revocation requested by ${s.revokedBy}; the workflow revokes the lease and verifies the role is gone`);
      return 0;
    }
    case 'credentials': {
      if (!target) throw usageError('missing <request>', 'pass the workflow id of an approved request');
      const s = await ctx.client.workflow.getHandle(target).query(breakGlassStatusQuery);
      if (!s.grant) throw new CliError(`request ${target} has no grant (phase ${s.phase})`, 'wait for the approvals');
      const cred = await readGrant(ctx, target, s);
      if (v.json) console.log(JSON.stringify({ ...cred, expiresAt: s.grant.expiresAt }));
      else
        console.log(
          `postgresql://${cred.username}:${cred.password}@${cred.host}:${cred.port}/${cred.database}  (valid until ${s.grant.expiresAt})`,
        );
      return 0;
    }
    case 'list': {
      const rows: (BreakGlassStatus & { workflowId: string })[] = [];
      for await (const w of ctx.client.workflow.list({ query: 'WorkflowType = "breakGlass" AND ExecutionStatus = "Running"' })) {
        const s = await ctx.client.workflow
          .getHandle(w.workflowId)
          .query(breakGlassStatusQuery)
          .catch(() => undefined);
        if (s)
          rows.push({
            ...s,
            workflowId: w.workflowId,
            grant: s.grant ? { ...s.grant, ...(s.grant.wrapToken ? { wrapToken: '[hidden]' } : {}) } : undefined,
          });
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
        'use one of: request, approve, deny, revoke, credentials, list',
      );
  }
}

/**
 * The credential, read with the operator's own token from the path only the requester's Vault
 * entity can read. Grants issued before identities were verified were response-wrapped instead.
 */
async function readGrant(ctx: CliContext, request: string, s: BreakGlassStatus): Promise<Record<string, string>> {
  const grant = s.grant!;
  if (grant.deliveredTo) {
    try {
      const read = await ctx.session.vault.kvRead<Record<string, string>>(ctx.env.ROTOR_VAULT_KV_MOUNT, grant.deliveredTo);
      if (!read) throw new CliError(`the grant of ${request} is gone (revoked or expired)`);
      return read.data;
    } catch (err) {
      if (err instanceof VaultRequestError && err.status === 403)
        throw new CliError(
          `Vault refused the grant of ${request} to you: only its requester (${s.requester}) can read it`,
          "log in as the requester ('rotor login <user>')",
        );
      throw operatorVaultError(err, `reading the grant of ${request}`);
    }
  }
  try {
    return await new VaultClient(ctx.env.ROTOR_VAULT_ADDR).unwrap<Record<string, string>>(grant.wrapToken!);
  } catch (err) {
    // A wrapping token opens once: if it is already used, someone else may hold the credential.
    if (err instanceof VaultRequestError)
      throw new CliError(
        `the grant of ${request} was already unwrapped or has expired (${err.vaultErrors.join('; ')})`,
        'if it was not you, revoke it now and report it',
      );
    throw err;
  }
}

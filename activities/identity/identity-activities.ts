import { createHash } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { FailureType } from '../../workflows/failure-types.js';
import type { ActivityContext } from '../activity-context.js';
import { appendAudit } from '../audit/append-audit.js';
import { IdentityRefused, IdentityTokenVerifier, signedContent, type VerifiedIdentity } from './identity-token.js';

export interface VerifyIdentityInput {
  /** A Vault identity token (identity/oidc/token/rotor) the person minted for this one action. */
  assertion: string;
  /** What the identity is for, e.g. "approve break-glass 3f2a…": audited. */
  purpose: string;
  secretId?: string;
}

const refused = (message: string) => ApplicationFailure.nonRetryable(message, FailureType.IdentityRefused);

/**
 * Invariant identity-is-proven: the worker, not the caller, decides who is acting. A token is
 * accepted once: its first use is an audit row keyed by the token's digest, so a token copied out
 * of workflow history or a query result (anyone with the codec key can read those) is refused.
 */
export function identityActivities(ctx: ActivityContext) {
  let verifier: IdentityTokenVerifier | undefined;
  const verifierFor = () => {
    if (!ctx.env.ROTOR_IDENTITY_AUDIENCE)
      throw refused(
        'this worker verifies no identities: set ROTOR_IDENTITY_AUDIENCE to the client_id of identity/oidc/role/rotor (the local stack does)',
      );
    const vault = ctx.env.ROTOR_VAULT_ADDR.replace(/\/$/, '');
    return (verifier ??= new IdentityTokenVerifier(
      `${vault}/v1/identity/oidc/.well-known/keys`,
      ctx.env.ROTOR_IDENTITY_ISSUER ?? `${vault}/v1/identity/oidc`,
      ctx.env.ROTOR_IDENTITY_AUDIENCE,
    ));
  };

  return {
    async verifyIdentity(input: VerifyIdentityInput): Promise<VerifiedIdentity> {
      const info = Context.current().info;
      const workflowId = info.workflowExecution?.workflowId ?? 'standalone';
      const runId = info.workflowExecution?.runId ?? info.activityId;
      // The same activity retried is the same use; anything else presenting this token is a replay.
      const use = `${workflowId}/${runId}/${info.activityId}`;
      /** A refusal is audited too (why, never the token): forged or replayed tokens are worth seeing. */
      const refuse = async (reason: string, actor = 'unverified'): Promise<never> => {
        await appendAudit(ctx.db, {
          eventKey: `${use}/identity_refused`,
          actor,
          workflowId,
          runId,
          secretId: input.secretId,
          step: 'identity_refused',
          outcome: 'refused',
          detail: { purpose: input.purpose.slice(0, 200), reason: reason.slice(0, 300) },
        }).catch((err: unknown) => ctx.logger.error({ err: (err as Error).message }, 'audit of an identity refusal failed'));
        throw refused(reason);
      };
      let who: VerifiedIdentity;
      try {
        who = await verifierFor().verify(input.assertion);
      } catch (err) {
        if (err instanceof IdentityRefused) return refuse(err.message);
        throw err;
      }
      // Keyed by what was signed, so no re-spelling of a used token counts as another one.
      const eventKey = `identity/${createHash('sha256').update(signedContent(input.assertion)).digest('hex')}`;
      const written = await appendAudit(ctx.db, {
        eventKey,
        actor: who.name,
        workflowId,
        runId,
        secretId: input.secretId,
        step: 'identity_verified',
        outcome: 'succeeded',
        detail: { entity: who.entityId, purpose: input.purpose.slice(0, 200), use },
      });
      if (!written) {
        const first = await ctx.db.query<{ use: string | null; purpose: string | null; workflow_id: string | null }>(
          `SELECT detail->>'use' AS use, detail->>'purpose' AS purpose, workflow_id FROM audit_log WHERE event_key = $1`,
          [eventKey],
        );
        const row = first.rows[0];
        if (row?.use !== use)
          return refuse(
            `this identity token was already used (${row?.purpose ?? 'another action'} in ${row?.workflow_id ?? 'another workflow'}): every action needs a token of its own, minted for it`,
            `unverified (a used token of ${who.name})`,
          );
      }
      return who;
    },
  };
}

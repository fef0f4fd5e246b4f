import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { BreakGlassPolicySpec, Grant } from '../../workflows/break-glass-types.js';
import { FailureType } from '../../workflows/failure-types.js';
import type { ActivityContext } from '../activity-context.js';
import { audited } from '../audit/audited.js';
import { activeFreezeOf } from '../incident/freeze-store.js';
import type { BreakGlassTarget, ProviderDefinition } from '../providers/provider.js';
import { definitionOf } from '../providers/registry.js';
import { typesWith, type ProviderType } from '../providers/schemas.js';
import type { AuditDetail, AuditOutcome } from '../audit/audit-entry.js';
import { GRANTS_PREFIX } from '../../vault/policies/operator-policy.js';

interface GrantRef {
  requestId: string;
  policyId: string;
  actor: string;
}

export function breakGlassActivities(ctx: ActivityContext) {
  const roleName = (requestId: string) => `breakglass-${requestId}`;
  /** Readable only by the requester: the operator policy templates this prefix with the reader's own entity id. */
  const deliveryPath = (entityId: string, requestId: string) => `${GRANTS_PREFIX}/${entityId}/${requestId}`;

  async function policy(policyId: string) {
    const inventory = await ctx.inventory.current();
    const found = inventory.breakGlass.find((p) => p.id === policyId);
    if (!found) {
      throw ApplicationFailure.nonRetryable(
        `policyId "${policyId}" is not a breakGlass policy of the inventory; known: ${inventory.breakGlass.map((p) => p.id).join(', ') || 'none'}`,
        FailureType.UnknownPolicy,
      );
    }
    return found;
  }

  /** The secret's break-glass target (its provider's, reading the admin credential from Vault as rotations do). */
  async function target(secretId: string): Promise<BreakGlassTarget> {
    const spec = await ctx.inventory.secret(secretId);
    const definition = definitionOf(spec.provider.type) as ProviderDefinition<ProviderType>;
    if (!definition.breakGlass) {
      throw ApplicationFailure.nonRetryable(
        `break-glass needs a secret whose target Vault's database engine serves (${typesWith('breakGlass')}); "${secretId}" is ${spec.provider.type}`,
        FailureType.WrongProvider,
      );
    }
    return definition.breakGlass(ctx, spec.provider, secretId);
  }

  /** One grant: a user from Vault's database engine, handed to `deliverTo`'s entity (or wrapped). */
  const issue = async (ref: GrantRef & { secretId: string; ttlMs: number; deliverTo?: string }): Promise<Grant> => {
    return audited(
      ctx,
      { step: 'break_glass_grant', secretId: ref.secretId, actor: ref.actor },
      async () => {
        const bg = await target(ref.secretId);
        const connection = `rotor-${ref.secretId}`;
        const role = roleName(ref.requestId);
        const ttl = `${Math.ceil(ref.ttlMs / 1000)}s`;
        await ctx.vault.run(async (v) => {
          await v.request('POST', `database/config/${connection}`, {
            ...bg.connection,
            allowed_roles: ['breakglass-*'],
            verify_connection: true,
          });
          await v.request('POST', `database/roles/${role}`, {
            db_name: connection,
            default_ttl: ttl,
            max_ttl: ttl,
            creation_statements: bg.creationStatements,
            revocation_statements: bg.revocationStatements,
          });
          // A retried attempt may have issued a lease already: end it before issuing the one we hand out.
          await v.revokePrefix(`database/creds/${role}`);
        });
        const creds = await ctx.vault.run((v) =>
          v.request<{ lease_id: string; lease_duration: number; data: { username: string; password: string } }>(
            'GET',
            `database/creds/${role}`,
          ),
        );
        const expiresAt = new Date(Date.now() + creds.lease_duration * 1000).toISOString();
        const handover = { ...creds.data, ...bg.endpoint, expiresAt };
        if (ref.deliverTo) {
          const path = deliveryPath(ref.deliverTo, ref.requestId);
          await ctx.vault.run((v) => v.kvWrite(ctx.env.ROTOR_VAULT_KV_MOUNT, path, handover));
          return { leaseId: creds.lease_id, username: creds.data.username, deliveredTo: path, expiresAt };
        }
        const wrapped = await ctx.vault.run((v) => v.wrap(handover, ttl));
        return { leaseId: creds.lease_id, username: creds.data.username, wrapToken: wrapped.token, expiresAt };
      },
      (g) => ({ detail: { policyId: ref.policyId, requestId: ref.requestId, username: g.username, expiresAt: g.expiresAt } }),
    );
  };

  return {
    async loadBreakGlassPolicy({ policyId }: { policyId: string }): Promise<BreakGlassPolicySpec> {
      const p = await policy(policyId);
      return {
        policyId,
        secretId: p.secretId,
        requesters: [],
        approvers: [],
        requesterGroups: p.requesterGroups,
        approverGroups: p.approverGroups,
        approvals: p.approvals,
        maxTtlMs: p.maxTtl,
        approvalTimeoutMs: p.approvalTimeout,
        rotateAfter: p.rotateAfter,
      };
    },

    /** The active incident freeze, if any (revoke-all sets it; lifting it is a separate act). */
    async activeFreeze({ secretId }: { secretId: string }): Promise<{ incidentId: string; reason: string } | null> {
      const freeze = await activeFreezeOf(ctx.db, secretId);
      return freeze ? { incidentId: freeze.incidentId, reason: freeze.reason } : null;
    },

    /** Tells the approver group about a request: who, what, why, how long, and where to decide. */
    async notifyApprovers(ref: GrantRef & { requester: string; justification: string; ttlMs: number }): Promise<{ notified: boolean }> {
      const p = await policy(ref.policyId);
      if (!p.notifyUrl) return { notified: false };
      const { workflowId } = Context.current().info.workflowExecution ?? { workflowId: '' };
      const response = await fetch(p.notifyUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          kind: 'break-glass-request',
          requestId: ref.requestId,
          policyId: ref.policyId,
          requester: ref.requester,
          justification: ref.justification,
          ttlSeconds: ref.ttlMs / 1000,
          approverGroups: p.approverGroups,
          approvalsRequired: p.approvals,
          workflowId,
        }),
        signal: AbortSignal.timeout(10_000),
      });
      if (!response.ok) throw ApplicationFailure.retryable(`approver notification answered ${response.status}`, FailureType.NotifyFailed);
      return { notified: true };
    },

    /**
     * Issues a short-lived user at the target (PostgreSQL, MySQL) through Vault's database secrets engine (one Vault role
     * per request, TTL capped by policy) and delivers it to a KV path only the requester's Vault
     * entity can read (`deliverTo`): nothing that leaves here lets anyone else use it. An activity
     * of its own name, so that a worker of the previous release (which would wrap) cannot run it.
     */
    issueGrantToEntity: (ref: GrantRef & { secretId: string; ttlMs: number; deliverTo: string }): Promise<Grant> => issue(ref),

    /** Requests made before identities were verified (their histories): the grant is response-wrapped. */
    issueGrant: (ref: GrantRef & { secretId: string; ttlMs: number }): Promise<Grant> => issue(ref),

    /** Revokes the lease synchronously and proves at the target that the user is gone (invariant revocation-verified, docs/invariants.md). */
    async revokeGrant(ref: GrantRef & { secretId: string; leaseId: string; username: string; deliveredTo?: string }): Promise<void> {
      await audited(ctx, { step: 'break_glass_revoke', secretId: ref.secretId, actor: ref.actor }, async () => {
        // The handed-over copy goes first (every version and the metadata): a revocation that keeps
        // failing must not leave the credential readable too.
        if (ref.deliveredTo) await ctx.vault.run((v) => v.kvDeleteAll(ctx.env.ROTOR_VAULT_KV_MOUNT, ref.deliveredTo!));
        await ctx.vault.run((v) => v.revokeLease(ref.leaseId));
        if (await (await target(ref.secretId)).userExists(ref.username))
          throw ApplicationFailure.retryable(
            `user ${ref.username} still exists (or is still connected) after its lease was revoked`,
            FailureType.RevocationNotVerified,
          );
        await ctx.vault.run((v) => v.request('DELETE', `database/roles/${roleName(ref.requestId)}`)).catch(() => undefined);
      });
    },

    /** Request, decisions and expiry as audit rows (references only). */
    async recordBreakGlassEvent(
      ref: GrantRef & {
        secretId: string;
        step: string;
        outcome: AuditOutcome;
        detail: AuditDetail;
        eventId: string;
      },
    ): Promise<void> {
      await audited(
        ctx,
        { step: ref.step, secretId: ref.secretId, actor: ref.actor },
        async () => undefined,
        () => ({ detail: { ...ref.detail, requestId: ref.requestId, policyId: ref.policyId, outcome: ref.outcome } }),
      );
    },
  };
}

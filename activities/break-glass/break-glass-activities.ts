import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { BreakGlassPolicySpec, Grant } from '../../workflows/break-glass-types.js';
import { FailureType } from '../../workflows/failure-types.js';
import type { ActivityContext } from '../activity-context.js';
import { audited } from '../audit/audited.js';
import { activeFreezeOf } from '../incident/freeze-store.js';
import { adminSession, postgresTarget, type PostgresTarget } from '../providers/postgres/provider.js';
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

  /** The target's admin credential and database, from Vault (never from config), read as rotations read it. */
  async function target(secretId: string): Promise<PostgresTarget> {
    const spec = await ctx.inventory.secret(secretId);
    if (spec.provider.type !== 'postgres') {
      throw ApplicationFailure.nonRetryable(
        `break-glass needs a postgres secret, "${secretId}" is ${spec.provider.type}`,
        FailureType.WrongProvider,
      );
    }
    return postgresTarget(ctx, spec.provider, secretId);
  }

  /** One grant: a role from Vault's database engine, handed to `deliverTo`'s entity (or wrapped). */
  const issue = async (ref: GrantRef & { secretId: string; ttlMs: number; deliverTo?: string }): Promise<Grant> => {
    return audited(
      ctx,
      { step: 'break_glass_grant', secretId: ref.secretId, actor: ref.actor },
      async () => {
        const { admin, database, ssl } = await target(ref.secretId);
        const connection = `rotor-${ref.secretId}`;
        // Vault's own connection to the target: encrypted when the provider's sessions are (the CA
        // file is the worker's, so Vault checks the certificate against its host's trusted CAs).
        const sslmode = !ssl || ssl.mode === 'disable' ? 'disable' : ssl.mode === 'prefer' ? 'prefer' : 'require';
        const role = roleName(ref.requestId);
        const ttl = `${Math.ceil(ref.ttlMs / 1000)}s`;
        await ctx.vault.run(async (v) => {
          await v.request('POST', `database/config/${connection}`, {
            plugin_name: 'postgresql-database-plugin',
            connection_url: `postgresql://{{username}}:{{password}}@${admin.host}:${admin.port}/${database}?sslmode=${sslmode}`,
            username: admin.username,
            password: admin.password,
            allowed_roles: ['breakglass-*'],
            verify_connection: true,
            // Vault sends PostgreSQL a SCRAM verifier, never the password, in CREATE ROLE: a
            // statement log (log_statement = 'all') holds nothing that logs in.
            password_authentication: 'scram-sha-256',
          });
          await v.request('POST', `database/roles/${role}`, {
            db_name: connection,
            default_ttl: ttl,
            max_ttl: ttl,
            creation_statements: [
              `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'`,
              `GRANT CONNECT ON DATABASE "${database}" TO "{{name}}"`,
            ],
            revocation_statements: [
              `REVOKE ALL ON DATABASE "${database}" FROM "{{name}}"`,
              `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{{name}}'`,
              `DROP ROLE IF EXISTS "{{name}}"`,
            ],
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
        const handover = { ...creds.data, host: admin.host, port: String(admin.port), database, expiresAt };
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
     * Issues a short-lived PostgreSQL role through Vault's database secrets engine (one Vault role
     * per request, TTL capped by policy) and delivers it to a KV path only the requester's Vault
     * entity can read (`deliverTo`): nothing that leaves here lets anyone else use it. An activity
     * of its own name, so that a worker of the previous release (which would wrap) cannot run it.
     */
    issueGrantToEntity: (ref: GrantRef & { secretId: string; ttlMs: number; deliverTo: string }): Promise<Grant> => issue(ref),

    /** Requests made before identities were verified (their histories): the grant is response-wrapped. */
    issueGrant: (ref: GrantRef & { secretId: string; ttlMs: number }): Promise<Grant> => issue(ref),

    /** Revokes the lease synchronously and proves at PostgreSQL that the role is gone (invariant revocation-verified, docs/invariants.md). */
    async revokeGrant(ref: GrantRef & { secretId: string; leaseId: string; username: string; deliveredTo?: string }): Promise<void> {
      await audited(ctx, { step: 'break_glass_revoke', secretId: ref.secretId, actor: ref.actor }, async () => {
        // The handed-over copy goes first (every version and the metadata): a revocation that keeps
        // failing must not leave the credential readable too.
        if (ref.deliveredTo) await ctx.vault.run((v) => v.kvDeleteAll(ctx.env.ROTOR_VAULT_KV_MOUNT, ref.deliveredTo!));
        await ctx.vault.run((v) => v.revokeLease(ref.leaseId));
        // As every target session: provider.ssl, and no wait on another session's lock without end.
        const client = await adminSession(ctx.providerCaches, await target(ref.secretId));
        try {
          const left = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [ref.username]);
          if (left.rowCount)
            throw ApplicationFailure.retryable(
              `role ${ref.username} still exists after its lease was revoked`,
              FailureType.RevocationNotVerified,
            );
        } finally {
          await client.end();
        }
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

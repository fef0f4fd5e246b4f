import { z } from 'zod';
import { parseDuration } from './duration.js';
import { idSchema, incidentIdSchema } from './ids.js';

/**
 * Builds the schema on first use. Every workflow evaluates this module afresh in its sandbox, and
 * a workflow needs one or two of these schemas: building all of them was a measurable part of
 * starting a rotation (bench/revoke-all.ts).
 */
function lazy<T extends object>(build: () => T): T {
  let built: T | undefined;
  return new Proxy({} as T, {
    get(_, property) {
      built ??= build();
      const value: unknown = Reflect.get(built, property, built);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(built) : value;
    },
  });
}

/**
 * The one schema for each workflow input and update payload, used by the CLI, the workflow
 * itself (a bad input from the Temporal UI fails fast) and update validators.
 */
export const rotateSecretInput = lazy(() =>
  z.strictObject({
    secretId: idSchema('the id of a secret in the inventory, e.g. "payments-db"'),
    requestedBy: z.string().min(1).max(200).optional(),
    /**
     * Runs the rotation as emergencyRotate does (see below). revokeAll started emergency rotations
     * this way before emergencyRotate existed; kept so those histories, and an older worker's
     * revokeAll during an upgrade, still work.
     */
    emergency: z.boolean().optional(),
    reason: z.string().max(500).optional(),
    /** Set by rotatePlan for its child rotations (lockstep gates); not for manual use. */
    plan: z.strictObject({ parentWorkflowId: z.string().min(1) }).optional(),
  }),
);
export type RotateSecretInput = z.infer<typeof rotateSecretInput>;

/** Incident response (started by revokeAll): no overlap, no rollback; the old credential is revoked and its sessions ended. */
export const emergencyRotateInput = lazy(() =>
  z.strictObject({
    secretId: idSchema('the id of a secret in the inventory, e.g. "payments-db"'),
    requestedBy: z.string().min(1, 'name who started the incident response').max(200),
    reason: z.string().max(500).optional(),
  }),
);
export type EmergencyRotateInput = z.infer<typeof emergencyRotateInput>;

export const confirmCutoverInput = lazy(() =>
  z.strictObject({
    consumer: z.string().min(1, 'name the consumer that cut over, e.g. "billing"'),
    version: z.number().int().positive('the Vault KV version the consumer now uses'),
    identity: identityToken.optional(),
    confirmedBy: z.string().min(1).max(200).optional(),
  }),
);
export type ConfirmCutoverInput = z.infer<typeof confirmCutoverInput>;

/** "secretId: the id of a secret ..." for every problem; the first line is the summary. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(input)'}: ${i.message}`).join('; ');
}

export const rotatePlanInput = lazy(() =>
  z.strictObject({
    planId: idSchema('the id of a plan in the inventory, e.g. "checkout"'),
    requestedBy: z.string().min(1).max(200).optional(),
    reason: z.string().max(500).optional(),
  }),
);
export type RotatePlanInput = z.infer<typeof rotatePlanInput>;

const who = z.string().min(1, 'name the person').max(200);

/**
 * A Vault identity token (identity/oidc/token/rotor) minted for this one action: the CLI mints one
 * per command after `rotor login`. Names in payloads (approver, by, requester, confirmedBy) are
 * kept only so earlier histories replay; they count for nothing.
 */
export const identityToken = z
  .string()
  .min(20, 'a Vault identity token (JWT) from identity/oidc/token/rotor: run `rotor login`, then the CLI sends one')
  .max(16_384);

/** What a validator answers when a request carries a name instead of a proof. */
export const IDENTITY_REQUIRED =
  'identity: required. A declared name changes nothing; log in to Vault (`rotor login <user>`) and use the rotor CLI, which sends a Vault identity token minted for this action';

export const breakGlassRequestInput = lazy(() =>
  z.strictObject({
    policyId: idSchema('the id of a breakGlass policy in the inventory'),
    identity: identityToken.optional(),
    /** Before identities were verified (earlier histories); ignored now. */
    requester: who.optional(),
    justification: z.string().min(10, 'say why (at least 10 characters): it goes to the approvers and the audit log').max(2000),
    ttl: z.string().refine((t) => (parseDuration(t) ?? 0) > 0, 'a duration such as "15m" or "1h"'),
  }),
);
export type BreakGlassRequestInput = z.infer<typeof breakGlassRequestInput>;

export const approvalInput = lazy(() =>
  z.strictObject({ identity: identityToken.optional(), approver: who.optional(), comment: z.string().max(500).optional() }),
);
export const denialInput = lazy(() =>
  z.strictObject({
    identity: identityToken.optional(),
    approver: who.optional(),
    comment: z.string().min(1, 'say why the request is denied').max(500),
  }),
);
export const revokeGrantInput = lazy(() => z.strictObject({ identity: identityToken.optional(), by: who.optional() }));
export type ApprovalInput = z.infer<typeof approvalInput>;
export type DenialInput = z.infer<typeof denialInput>;
export type RevokeGrantInput = z.infer<typeof revokeGrantInput>;

/** A person ends an emergency revocation that keeps failing (the old credential is handled by hand). */
export const endRevocationInput = lazy(() =>
  z.strictObject({
    identity: identityToken.optional(),
    by: who.optional(),
    reason: z.string().min(10, 'say how the old credential was dealt with (at least 10 characters)').max(500),
  }),
);
export type EndRevocationInput = z.infer<typeof endRevocationInput>;

const leasePrefix = z
  .string()
  .regex(
    /^database\/creds\/([A-Za-z0-9_.-]+\/)*$/,
    'a Vault lease prefix folder under database/creds/ ending in "/", e.g. "database/creds/" or "database/creds/reporting/"',
  );

export const revokeAllInput = lazy(() =>
  z
    .strictObject({
      incidentId: incidentIdSchema('an incident id such as "inc-2041"'),
      reason: z.string().min(5, 'say what happened (at least 5 characters): it goes into the freeze and the report').max(1000),
      /** Must be an incident responder (inventory incident.responderGroups); verified before anything is frozen. */
      identity: identityToken.optional(),
      /** Before identities were verified (earlier histories); now the verified identity's name. */
      requestedBy: z.string().min(1, 'name who started the incident response').max(200).optional(),
      scope: z.strictObject({
        secretIds: z.array(idSchema('a secret id')).default([]),
        tags: z.array(z.string().min(1)).default([]),
        leasePrefixes: z.array(leasePrefix).default([]),
      }),
      dryRun: z.boolean().default(false),
      concurrency: z.number().int().min(1).max(64, 'at most 64 rotations at once').default(8),
      /** "everything" (default) holds every ordinary rotation and grant; "in-scope" only the secrets in scope. */
      freeze: z.enum(['everything', 'in-scope'], { error: 'freeze must be "everything" or "in-scope"' }).default('everything'),
      /** Force-revoke leases whose backend refuses (reported as forced: the target may still hold them). */
      forceLeases: z.boolean().default(false),
    })
    .refine((i) => i.scope.secretIds.length + i.scope.tags.length + i.scope.leasePrefixes.length > 0, {
      message: 'name at least one secret id, tag or lease prefix',
      path: ['scope'],
    }),
);
export type RevokeAllInput = z.input<typeof revokeAllInput>;

export const unfreezeInput = lazy(() =>
  z.strictObject({
    // Not the incident pattern: unfreeze histories recorded with any non-empty id must replay as they ran.
    incidentId: z.string().min(1, 'the incident whose freeze to lift'),
    identity: identityToken.optional(),
    by: z.string().min(1, 'name who lifts the freeze').max(200).optional(),
  }),
);
export type UnfreezeInput = z.infer<typeof unfreezeInput>;

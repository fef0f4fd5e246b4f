import { z } from 'zod';
import { providerSchemas, providerTypeList, traitsOf, typesWith } from '../activities/providers/schemas.js';
import type { ProviderTraits } from '../activities/providers/traits.js';
import { parseDuration } from './duration.js';
import { idSchema } from './ids.js';
import { NOTIFICATION_KINDS } from '../notifications/notification-kind.js';

const id = idSchema('use lower-case letters, digits and dashes (e.g. "payments-db"), at most 63 characters');

/** A duration string ("30s", "5m", "2h") turned into milliseconds. */
const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration: write e.g. "30s", "5m", "2h" or "1d"` });
    return z.NEVER;
  }
  return ms;
});

const kvPath = z
  .string()
  .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_.-]+)*$/, 'a KV v2 path under the rotor mount, such as "apps/payments-db" (no leading slash)')
  // The HTTP client resolves "..", so "apps/../_rotor/x" would reach rotor's own reserved secrets.
  .refine((p) => p.split('/').every((seg) => seg !== '.' && seg !== '..'), 'no "." or ".." segments ("apps/../x" would resolve to "x")')
  .refine(
    (p) => p !== '_rotor' && !p.startsWith('_rotor/'),
    '"_rotor/" is reserved for rotor itself (admin credentials, staged credentials)',
  );

/** One of the provider schemas of activities/providers/<type>/schema.ts, chosen by `type`. */
const providerSpecs = Object.values(providerSchemas).map((p) => p.inventory);
export const provider = z.discriminatedUnion('type', [providerSpecs[0]!, ...providerSpecs.slice(1)], {
  error: (issue) => (issue.code === 'invalid_union' ? `provider.type must be ${providerTypeList()}` : undefined),
});

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://127.0.0.1:9101/reload' });

/** Names of notification targets, as `default` and a secret's `notify` list them. */
const targetNames = z.array(id, {
  error: (issue) => (issue.code === 'invalid_type' ? 'a list of target names, e.g. [ops-slack]' : undefined),
});

/** How rotor learns a consumer has cut over to the new version. */
export const confirmation = z.discriminatedUnion('mode', [
  /** POST {secretId, path, version} to the URL; a 2xx answer naming the version is the confirmation. */
  z.strictObject({ mode: z.literal('webhook'), url: httpUrl, timeout: duration.default(120_000) }),
  /** Poll the URL until its JSON reports `version` equal to the promoted version. */
  z.strictObject({ mode: z.literal('health'), url: httpUrl, timeout: duration.default(120_000) }),
  /** A person or an agent confirms through the `confirmCutover` update (UI, CLI, API). */
  z.strictObject({ mode: z.literal('manual'), timeout: duration.default(3_600_000) }),
  /**
   * PostgreSQL only, observed in pg_stat_activity: the new role has been seen connected since
   * promotion and no session of the old role remains (an idle consumer never confirms).
   */
  z.strictObject({
    mode: z.literal('pg-sessions'),
    timeout: duration.default(300_000),
    /** Count only this consumer's sessions (its connections' application_name) when several share a role. */
    applicationName: z.string().min(1, 'the application_name this consumer connects with, e.g. "billing"').max(63).optional(),
  }),
  /**
   * Any provider that lists sessions (traits.ts): the new credential has been seen connected since
   * promotion and no session of the old one remains, observed at the target (pg_stat_activity,
   * MySQL's process list, Redis CLIENT LIST). An idle consumer never confirms.
   */
  z.strictObject({
    mode: z.literal('sessions'),
    timeout: duration.default(300_000),
    /** Count only clients connecting with this name (PostgreSQL application_name, Redis CLIENT SETNAME), where the target can tell. */
    clientName: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,63}$/, 'the name this consumer connects with, e.g. "billing" (letters, digits, _ . : -)')
      .optional(),
  }),
]);

export const consumer = z.strictObject({
  name: id,
  /** Optional liveness URL checked at pre-check and post-validation (expects 2xx). */
  healthUrl: httpUrl.optional(),
  confirm: confirmation,
});

const CRON_FIELD = /^[0-9A-Za-z*?,/#LW-]+$/;

/** Five-field cron ("0 3 * * 0") or a Temporal shorthand such as "@daily". */
const cron = z.string().refine((value) => {
  const v = value.trim();
  if (/^@(yearly|annually|monthly|weekly|daily|hourly)$/.test(v)) return true;
  const fields = v.split(/\s+/);
  return fields.length === 5 && fields.every((f) => CRON_FIELD.test(f));
}, 'must be a five-field cron expression such as "0 3 * * 0" (minute hour day-of-month month day-of-week) or @daily/@weekly/@hourly');

export const cadence = z
  .strictObject({
    cron: cron.optional(),
    every: duration.optional(),
    /** Random delay added to each run so many secrets do not rotate at the same instant. */
    jitter: duration.optional(),
    /** How late a missed run (server down) may still start; later ones are skipped. */
    catchupWindow: duration.optional(),
    paused: z.boolean().default(false),
  })
  .refine((c) => (c.cron === undefined) !== (c.every === undefined), 'give exactly one of cron (e.g. "0 3 * * 0") or every (e.g. "24h")');

export const secret = z
  .strictObject({
    id,
    path: kvPath,
    owner: z.string().min(1, 'name the owning team, e.g. "team-payments"'),
    tags: z.array(z.string().min(1)).default([]),
    provider,
    strategy: z.enum(['dual'], { error: 'strategy must be "dual" (old and new credential overlap)' }).default('dual'),
    overlap: duration.default(60_000),
    cadence: cadence.optional(),
    consumers: z.array(consumer).default([]),
    /** Notification targets of this secret (names from notifications.targets), instead of the default; [] opts out. */
    notify: targetNames.optional(),
  })
  .superRefine((s, ctx) => {
    const names = new Set<string>();
    s.consumers.forEach((c, i) => {
      if (names.has(c.name))
        ctx.addIssue({ code: 'custom', path: ['consumers', i, 'name'], message: `consumer "${c.name}" is listed twice` });
      names.add(c.name);
      if (c.confirm.mode === 'pg-sessions' && s.provider.type !== 'postgres') {
        ctx.addIssue({
          code: 'custom',
          path: ['consumers', i, 'confirm', 'mode'],
          message: '"pg-sessions" works only with the postgres provider',
        });
      }
      if (c.confirm.mode === 'sessions') {
        const sessions = traitsOf(s.provider).sessions;
        if (!sessions)
          ctx.addIssue({
            code: 'custom',
            path: ['consumers', i, 'confirm', 'mode'],
            message: `"sessions" needs a target that lists its sessions (${typesWith('sessions')}); ${s.provider.type} cannot: use webhook, health or manual`,
          });
        else if (sessions.unavailable?.(s.provider))
          ctx.addIssue({ code: 'custom', path: ['consumers', i, 'confirm', 'mode'], message: sessions.unavailable(s.provider)! });
        else if (c.confirm.clientName !== undefined && !sessions.clientName)
          ctx.addIssue({
            code: 'custom',
            path: ['consumers', i, 'confirm', 'clientName'],
            message: `${s.provider.type} cannot tell clients apart by name in ${sessions.where}: remove clientName`,
          });
      }
    });
  });

/** A value rotor reads from Vault (KV v2 under the rotor mount) when it needs it, so it is never in this file. */
const fromVault = (field: string, example: string) =>
  z.strictObject(
    {
      vault: kvPath,
      /** The field of that KV secret holding the value. */
      field: z
        .string()
        .regex(/^[A-Za-z0-9_.-]{1,63}$/, `the field of the KV secret that holds the ${field}, e.g. "${example}"`)
        .default(example),
    },
    {
      error: (issue) =>
        issue.code === 'invalid_type'
          ? `give where Vault holds the ${field}, e.g. { vault: "notifications/ops", field: "${example}" }`
          : undefined,
    },
  );

const notificationEvents = z
  .array(z.enum(NOTIFICATION_KINDS as [string, ...string[]], { error: `must be one of ${NOTIFICATION_KINDS.join(', ')}` }))
  .min(1, 'name at least one event, or leave "events" out for all of them')
  .optional();

/**
 * Where rotor sends notifications (notifications/). A Slack incoming-webhook URL is a credential
 * (anyone holding it may post), so it can only come from Vault; a generic webhook may name its URL
 * here and sign its bodies with a key from Vault.
 */
export const notificationTarget = z.discriminatedUnion(
  'type',
  [
    z
      .strictObject({
        type: z.literal('webhook'),
        url: httpUrl.optional(),
        urlFrom: fromVault('URL', 'url').optional(),
        /** An HMAC-SHA256 key: bodies are signed (X-Rotor-Signature) so the receiver can tell rotor sent them. */
        signingKeyFrom: fromVault('signing key', 'key').optional(),
        events: notificationEvents,
      })
      .refine((t) => (t.url === undefined) !== (t.urlFrom === undefined), {
        message: 'give exactly one of url (e.g. "https://hooks.internal/rotor") or urlFrom (e.g. { vault: "notifications/ops-webhook" })',
        path: ['url'],
      }),
    z.strictObject({
      type: z.literal('slack'),
      url: z
        .unknown()
        .optional()
        .refine((v) => v === undefined, {
          message:
            'a Slack webhook URL is a credential and cannot be written in the inventory: store it in Vault (field "url") and use urlFrom: { vault: "notifications/slack-ops" }',
        }),
      urlFrom: fromVault('URL', 'url'),
      events: notificationEvents,
    }),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? 'type must be "webhook" or "slack"' : undefined) },
);

export const notifications = z.strictObject({
  targets: z
    .record(id, notificationTarget, {
      error: (issue) =>
        issue.code === 'invalid_key' ? 'a target name uses lower-case letters, digits and dashes (e.g. "ops-slack")' : undefined,
    })
    .default({}),
  /** Targets of every secret without its own `notify`, and of incidents. */
  default: targetNames.default([]),
  /** The Temporal Web UI's address (e.g. "http://127.0.0.1:8233"): notifications then link to the workflow. */
  temporalUiUrl: httpUrl.optional(),
});

export const plan = z.strictObject({
  id,
  /** Secret ids that move together, in this order. */
  secrets: z.array(id).min(2, 'a plan names at least two secrets'),
});

const identityGroups = (example: string) =>
  z.array(z.string().min(1, 'a Vault identity group name')).min(1, `name at least one Vault identity group, e.g. ["${example}"]`);

/** People who declared names in earlier inventories now prove membership of Vault identity groups. */
const namesNowGroups = (field: 'requesters' | 'approvers', groupsField: string, example: string) =>
  z
    .unknown()
    .optional()
    .refine((v) => v === undefined, {
      message: `"${field}" listed names, which rotor no longer trusts: use ${groupsField} with Vault identity group names, e.g. ${groupsField}: ["${example}"]`,
    });

/** Emergency access to one target: who may ask, who must approve, for how long at most. */
export const breakGlassPolicy = z
  .strictObject({
    id,
    /** A secret of this inventory whose provider supports break-glass (postgres, mysql): its target gets the temporary user. */
    secretId: id,
    /** Vault identity groups whose members may request (membership is read from the verified identity token). */
    requesterGroups: identityGroups('rotor-breakglass-requesters'),
    /** Vault identity groups whose members may approve or deny; never the requester, each entity once. */
    approverGroups: identityGroups('rotor-breakglass-approvers'),
    requesters: namesNowGroups('requesters', 'requesterGroups', 'rotor-breakglass-requesters'),
    approvers: namesNowGroups('approvers', 'approverGroups', 'rotor-breakglass-approvers'),
    approvals: z.number().int().min(1, 'at least one approval is required').default(2),
    maxTtl: duration.default(3_600_000),
    approvalTimeout: duration.default(900_000),
    rotateAfter: z.boolean().default(true),
    /** Approvers are told about each request here (POST, references only). */
    notifyUrl: httpUrl.optional(),
  })
  .transform(({ requesters: _r, approvers: _a, ...p }) => p);

export const inventory = z
  .strictObject({
    secrets: z.array(secret).min(1, 'declare at least one secret'),
    plans: z.array(plan).default([]),
    breakGlass: z.array(breakGlassPolicy).default([]),
    incident: z
      .strictObject({
        /** May the person who started an incident lift its freeze? Default: no, a second person must. */
        allowSelfUnfreeze: z.boolean().default(false),
        /** Vault identity groups whose members may start revokeAll (incident response). */
        responderGroups: identityGroups('rotor-incident-responders').default(['rotor-incident-responders']),
      })
      .default({ allowSelfUnfreeze: false, responderGroups: ['rotor-incident-responders'] }),
    notifications: notifications.default({ targets: {}, default: [] }),
  })
  .superRefine((inv, ctx) => {
    const ids = new Map<string, number>();
    const paths = new Map<string, number>();
    const targets = new Map<string, number>();
    inv.secrets.forEach((s, i) => {
      for (const t of traitsOf(s.provider).targets?.(s.provider) ?? []) {
        const first = targets.get(t);
        if (first !== undefined && first !== i)
          ctx.addIssue({
            code: 'custom',
            path: ['secrets', i, 'provider'],
            message: `rotates what secrets[${first}] ("${inv.secrets[first]!.id}") rotates (${t.split('|').slice(2).join(' ') || t}): two secrets would change one credential against each other; keep one of them`,
          });
        else targets.set(t, i);
      }
      if (ids.has(s.id))
        ctx.addIssue({
          code: 'custom',
          path: ['secrets', i, 'id'],
          message: `duplicate secret id "${s.id}" (also secrets[${ids.get(s.id)}])`,
        });
      if (paths.has(s.path))
        ctx.addIssue({
          code: 'custom',
          path: ['secrets', i, 'path'],
          message: `path "${s.path}" is already used by secrets[${paths.get(s.path)}]`,
        });
      ids.set(s.id, i);
      paths.set(s.path, i);
    });
    inv.breakGlass.forEach((b, i) => {
      const target = inv.secrets.find((s) => s.id === b.secretId);
      if (!target)
        ctx.addIssue({
          code: 'custom',
          path: ['breakGlass', i, 'secretId'],
          message: `unknown secret "${b.secretId}"; declared: ${[...ids.keys()].join(', ')}`,
        });
      else if (!traitsOf(target.provider).breakGlass)
        ctx.addIssue({
          code: 'custom',
          path: ['breakGlass', i, 'secretId'],
          message: `break-glass grants need a secret whose target Vault's database engine serves (${typesWith('breakGlass')}); "${b.secretId}" is ${target.provider.type}`,
        });
    });
    const targetNames = Object.keys(inv.notifications.targets);
    const unknownTarget = (name: string, path: (string | number)[]) => {
      if (!(name in inv.notifications.targets))
        ctx.addIssue({
          code: 'custom',
          path,
          message: `unknown notification target "${name}"; declare it under notifications.targets (declared: ${targetNames.join(', ') || 'none'})`,
        });
    };
    inv.notifications.default.forEach((name, j) => unknownTarget(name, ['notifications', 'default', j]));
    inv.secrets.forEach((s, i) => s.notify?.forEach((name, j) => unknownTarget(name, ['secrets', i, 'notify', j])));
    // A target's URL or key read from a managed secret's path would send that secret's value out.
    for (const [name, t] of Object.entries(inv.notifications.targets)) {
      const refs = [
        ['urlFrom', t.urlFrom],
        ['signingKeyFrom', t.type === 'webhook' ? t.signingKeyFrom : undefined],
      ] as const;
      for (const [field, ref] of refs) {
        if (!ref) continue;
        const owner = paths.get(ref.vault);
        // An admin credential is worse still (_rotor/ is refused by kvPath, but adminPath may be anywhere).
        const admin = inv.secrets.findIndex((s) => 'adminPath' in s.provider && s.provider.adminPath === ref.vault);
        const what =
          owner !== undefined
            ? `the path of secrets[${owner}] ("${inv.secrets[owner]!.id}"), a rotated credential`
            : admin >= 0
              ? `the admin credential of secrets[${admin}] ("${inv.secrets[admin]!.id}")`
              : undefined;
        if (what)
          ctx.addIssue({
            code: 'custom',
            path: ['notifications', 'targets', name, field, 'vault'],
            message: `"${ref.vault}" is ${what}: keep the target's value at a path of its own, e.g. "notifications/${name}"`,
          });
      }
    }
    inv.plans.forEach((p, i) =>
      p.secrets.forEach((sid, j) => {
        if (!ids.has(sid))
          ctx.addIssue({
            code: 'custom',
            path: ['plans', i, 'secrets', j],
            message: `unknown secret "${sid}"; declared: ${[...ids.keys()].join(', ')}`,
          });
      }),
    );
  });

/**
 * What a secret's provider type asks of Vault and of the rest of rotor (traits.ts), for layers
 * below activities/ (the worker policy) that must not import a provider.
 */
export function providerTraits(spec: ProviderSpec): ProviderTraits<ProviderSpec> {
  return traitsOf(spec) as ProviderTraits<ProviderSpec>;
}

export type { VaultRule } from '../activities/providers/traits.js';

export type Inventory = z.infer<typeof inventory>;
export type SecretSpec = z.infer<typeof secret>;
export type ConsumerSpec = z.infer<typeof consumer>;
export type ProviderSpec = z.infer<typeof provider>;
export type ConfirmationSpec = z.infer<typeof confirmation>;
export type PlanSpec = z.infer<typeof plan>;
export type BreakGlassPolicy = z.infer<typeof breakGlassPolicy>;
export type NotificationTarget = z.infer<typeof notificationTarget>;
export type NotificationsSpec = z.infer<typeof notifications>;

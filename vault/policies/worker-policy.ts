import { providerTraits, type Inventory } from '../../config/inventory-schema.js';
import { AUDIT_ANCHOR_PATH, AUDIT_TRANSIT_KEY, CODEC_KEY_PATH, GRANTS_PREFIX } from './operator-policy.js';

/**
 * The worker's Vault policies, generated from the inventory: exactly the KV paths, admin
 * credentials, AppRole roles and break-glass connections it names, plus rotor's own internal
 * paths. Nothing under the KV mount is granted by wildcard except the folders rotor itself owns
 * (one rotation's staged credentials, break-glass grants). Re-render and rewrite the set
 * whenever the inventory changes: a secret added to the inventory but not to the policies fails its
 * first step with 403, and one removed keeps no access.
 *
 * Split in two kinds because OpenBao builds a token's ACL from every rule of its policies on every
 * request (~1.4 µs per rule): the worker policy `P` holds what is not about one secret, plus the
 * right to mint child tokens through the token role `P-secrets`; each secret's rules live in
 * `P-secret-<id>`, held only by the child tokens that act on that secret (vault/vault-session.ts).
 */

const CAPABILITIES = ['create', 'read', 'update', 'delete', 'list', 'sudo'] as const;
type Capability = (typeof CAPABILITIES)[number];

export interface WorkerPolicyOptions {
  /** The KV v2 mount (ROTOR_VAULT_KV_MOUNT). */
  kvMount: string;
  /** The worker policy's name (`P`), e.g. "rotor-worker"; the secret policies and token role are named after it. */
  name: string;
  /** Named in the header comment, e.g. the inventory file. */
  inventoryName?: string;
}

/** What the policy is rendered from: a parsed inventory (an empty one gives rotor's own paths only). */
export type PolicyInventory = Pick<Inventory, 'secrets' | 'breakGlass'> & Partial<Pick<Inventory, 'notifications'>>;

/** A name from the inventory that would change a policy path's meaning (a glob character, a ".." segment). */
export class UnsafePolicyPathError extends Error {
  constructor(field: string, value: string) {
    super(
      `${field} "${value}" cannot be put in a Vault policy path: use letters, digits, "_", "-", "." and "/" only, with no "." or ".." segment`,
    );
    this.name = 'UnsafePolicyPathError';
  }
}

/**
 * Inventory values become literal policy paths: "*" or "+" would widen them to other secrets, a
 * quote would end the path string. The inventory schema checks KV paths already; admin paths and
 * AppRole mounts are checked only here.
 */
function safe(field: string, value: string): string {
  const ok = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(value) && value.split('/').every((s) => s !== '.' && s !== '..');
  if (!ok) throw new UnsafePolicyPathError(field, value);
  return value;
}

class Rules {
  private readonly rules = new Map<string, { capabilities: Set<Capability>; why: Set<string> }>();

  grant(path: string, capabilities: Capability[], why: string): void {
    const rule = this.rules.get(path) ?? { capabilities: new Set<Capability>(), why: new Set<string>() };
    for (const c of capabilities) rule.capabilities.add(c);
    rule.why.add(why);
    this.rules.set(path, rule);
  }

  /** Sorted by path, capabilities in a fixed order: the same inventory always gives the same text. */
  render(): string {
    const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    return [...this.rules.keys()]
      .sort(byCodePoint)
      .map((path) => {
        const { capabilities, why } = this.rules.get(path)!;
        const caps = CAPABILITIES.filter((c) => capabilities.has(c))
          .map((c) => `"${c}"`)
          .join(', ');
        return `# ${[...why].sort(byCodePoint).join('; ')}\npath "${path}" { capabilities = [${caps}] }\n`;
      })
      .join('\n');
  }
}

/** How long a child token for one secret lives (the token role caps it); the worker mints a new one at half of it. */
export const SECRET_TOKEN_TTL = '30m';

/** The policy a child token for one secret holds. */
export function secretPolicyName(workerPolicy: string, secretId: string): string {
  return `${workerPolicy}-secret-${secretId}`;
}

/** The prefix of every secret policy of `workerPolicy` (the token role's glob, stale-policy cleanup). */
export function secretPolicyPrefix(workerPolicy: string): string {
  return `${workerPolicy}-secret-`;
}

/** The token role the worker mints its per-secret child tokens through. */
export function secretsTokenRole(workerPolicy: string): string {
  return `${workerPolicy}-secrets`;
}

/** The whole set for one inventory: the worker policy and one policy per secret, by secret id. */
export interface WorkerPolicies {
  name: string;
  worker: string;
  secrets: Record<string, { name: string; hcl: string }>;
}

export function renderWorkerPolicies(inventory: PolicyInventory, { kvMount, name, inventoryName }: WorkerPolicyOptions): WorkerPolicies {
  const m = safe('kvMount', kvMount);
  safe('name', name);
  const from = (inventoryName ?? 'an inventory').replace(/\s+/g, ' ');
  const rules = new Rules();
  const secrets: Record<string, { name: string; hcl: string }> = {};

  inventory.secrets.forEach((s, i) => {
    const own = new Rules();
    const path = safe(`secrets[${i}].path`, s.path);
    const id = safe(`secrets[${i}].id`, s.id);
    // Seed (cas=0 create), read any version, promote and roll back (cas update); update is also what
    // lets a retried cas=0 write reach Vault's check-and-set answer instead of a 403.
    own.grant(`${m}/data/${path}`, ['create', 'read', 'update'], `${id}: its versions`);
    own.grant(`${m}/metadata/${path}`, ['read', 'update'], `${id}: current version, promotion stamps`);
    own.grant(`${m}/data/_rotor/pending/${id}/*`, ['create', 'read', 'update'], `${id}: staged credentials`);
    own.grant(`${m}/metadata/_rotor/pending/${id}/*`, ['read', 'delete'], `${id}: staged credentials, removed after use`);
    const ctx = { kvMount: m, secretId: id, safe: (field: string, value: string) => safe(`secrets[${i}].provider.${field}`, value) };
    for (const r of providerTraits(s.provider).secretRules(s.provider, ctx)) own.grant(r.path, r.capabilities, r.why);
    const policy = secretPolicyName(name, id);
    const header = [
      `# rotor policy of secret ${id}, generated from ${from} (rotor policy render worker).`,
      `# Held only by child tokens the worker mints for this secret (token role ${secretsTokenRole(name)}).`,
      '',
    ].join('\n');
    secrets[id] = { name: policy, hcl: `${header}\n${own.render()}` };
  });

  // Child tokens for one secret each (vault/vault-session.ts); the token role allows only this
  // worker's secret policies, so this is no wider than the secret policies themselves.
  rules.grant(`auth/token/create/${secretsTokenRole(name)}`, ['update'], 'child tokens holding one secret policy each');

  // Paths a provider type needs beyond one secret (an emergency AppRole rotation lists token accessors).
  const typesSeen = new Set<string>();
  for (const s of inventory.secrets) {
    if (typesSeen.has(s.provider.type)) continue;
    typesSeen.add(s.provider.type);
    for (const r of providerTraits(s.provider).workerRules?.() ?? []) rules.grant(r.path, r.capabilities, r.why);
  }

  inventory.breakGlass.forEach((b, i) => {
    const why = `break-glass ${safe(`breakGlass[${i}].id`, b.id)}`;
    // One connection per target secret (break-glass-activities.ts: `rotor-<secretId>`).
    rules.grant(`database/config/rotor-${safe(`breakGlass[${i}].secretId`, b.secretId)}`, ['create', 'update'], why);
    // Roles are `breakglass-<requestId>`, a random id per request: the prefix is as narrow as it gets.
    rules.grant('database/roles/breakglass-*', ['create', 'update', 'delete'], why);
    rules.grant('database/creds/breakglass-*', ['read'], why);
    rules.grant('sys/wrapping/wrap', ['update'], why);
  });

  // Notification targets' URLs and signing keys (notifications/target-secrets.ts): read, exactly the paths named.
  for (const [target, t] of Object.entries(inventory.notifications?.targets ?? {})) {
    const refs = [t.urlFrom, t.type === 'webhook' ? t.signingKeyFrom : undefined];
    for (const ref of refs)
      if (ref) rules.grant(`${m}/data/${safe(`notifications.targets.${target}`, ref.vault)}`, ['read'], `notification target ${target}`);
  }

  // Lease revocation, granted whatever the inventory says: a grant issued before a policy was
  // removed must still end. Single leases only under the prefix rotor creates (VaultClient
  // revokes by URL so this path can be narrowed); revokeAll accepts any lease prefix under
  // database/creds/ from its input (config/workflow-inputs.ts), so prefix revocation and listing
  // cover database/creds/*, nothing wider.
  rules.grant('sys/leases/revoke/database/creds/breakglass-*', ['update'], 'ending a break-glass grant');
  const incident = 'revokeAll: lease prefixes under database/creds/';
  rules.grant('sys/leases/lookup/database/creds/*', ['list', 'sudo'], incident);
  rules.grant('sys/leases/revoke-prefix/database/creds/*', ['update', 'sudo'], incident);
  rules.grant('sys/leases/revoke-force/database/creds/*', ['update', 'sudo'], incident);

  // rotor's own paths (vault/policies/operator-policy.ts names them for the operator side).
  rules.grant(`${m}/data/${CODEC_KEY_PATH}`, ['read'], 'payload codec key');
  rules.grant(`${m}/data/${GRANTS_PREFIX}/*`, ['create', 'read', 'update'], "break-glass credentials delivered to the requester's entity");
  rules.grant(`${m}/metadata/${GRANTS_PREFIX}/*`, ['read', 'delete'], 'break-glass credentials, removed when the grant ends');
  rules.grant(`transit/hmac/${AUDIT_TRANSIT_KEY}`, ['update'], 'audit row MACs');
  rules.grant(`${m}/data/${AUDIT_ANCHOR_PATH}`, ['create', 'read', 'update'], "audit chain's anchor");
  rules.grant(`${m}/metadata/${AUDIT_ANCHOR_PATH}`, ['read'], "audit chain's anchor");
  // Unauthenticated anyway; named so an identity check never depends on that.
  rules.grant('identity/oidc/.well-known/keys', ['read'], 'verifying identity tokens');
  rules.grant('identity/oidc/.well-known/openid-configuration', ['read'], 'verifying identity tokens');

  const header = [
    `# rotor worker policy, generated from ${from} (rotor policy render worker).`,
    '# Exactly what this inventory names; render and write it again whenever the inventory changes.',
    `# Per-secret paths are in the ${secretPolicyPrefix(name)}<id> policies, reached through child tokens.`,
    '',
  ].join('\n');
  return { name, worker: `${header}\n${rules.render()}`, secrets };
}

/**
 * The set as one text, each policy after a line `# policy <name>` (rotor policy render worker):
 * the worker policy first, then the secret policies by id.
 */
export function workerPoliciesText(set: WorkerPolicies): string {
  const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const parts = [`# policy ${set.name}\n${set.worker}`];
  for (const id of Object.keys(set.secrets).sort(byCodePoint)) parts.push(`# policy ${set.secrets[id]!.name}\n${set.secrets[id]!.hcl}`);
  return parts.join('\n');
}

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VaultClient } from '../vault/vault-client.js';
import { IDENTITY_KEY, IDENTITY_ROLE, OPERATOR_POLICY_NAME, operatorPolicy } from '../vault/policies/operator-policy.js';

/** Identity groups rotor's example inventory and incident response refer to. */
export const IdentityGroup = {
  OPERATORS: 'rotor-operators',
  REQUESTERS: 'rotor-breakglass-requesters',
  APPROVERS: 'rotor-breakglass-approvers',
  INCIDENT_RESPONDERS: 'rotor-incident-responders',
} as const;

/** The local stack's people and their groups: enough to request, approve twice and respond to incidents. */
export const LOCAL_OPERATORS: Record<string, string[]> = {
  alice: [IdentityGroup.REQUESTERS, IdentityGroup.INCIDENT_RESPONDERS],
  bob: [IdentityGroup.REQUESTERS],
  carol: [IdentityGroup.APPROVERS, IdentityGroup.INCIDENT_RESPONDERS],
  dave: [IdentityGroup.APPROVERS],
  erin: [IdentityGroup.APPROVERS],
};

/**
 * rotor's identity token carries the entity's name and group names; the worker checks its
 * signature against Vault's published keys and its audience against the role's client_id.
 */
const TOKEN_TEMPLATE = JSON.stringify({ username: '{{identity.entity.name}}', groups: '{{identity.entity.groups.names}}' }).replace(
  /"(\{\{[^}]+\}\})"/g,
  '$1',
);

export interface LocalIdentity {
  /** The audience (client_id) of rotor's identity role: ROTOR_IDENTITY_AUDIENCE. */
  audience: string;
  /** userpass name → password, kept in the state dir (0600) so logins survive restarts. */
  operators: Record<string, string>;
}

/**
 * Idempotent: userpass logins for the local operators, an identity entity per person (aliased to
 * the login, so a token's entity is the person), identity groups, the operator policy, and the
 * signing key and role of rotor's identity tokens. Production replaces userpass with OIDC, LDAP or
 * JWT auth and the groups with the organisation's own (docs/identity.md).
 */
export async function bootstrapIdentity(address: string, rootToken: string, stateDir: string, kvMount: string): Promise<LocalIdentity> {
  const vault = new VaultClient(address, rootToken);
  if (!(await vault.auths())['userpass/']) await vault.enableAuth('userpass', 'userpass');
  const auths = await vault.request<{ data?: Record<string, { accessor: string }> } & Record<string, { accessor: string }>>(
    'GET',
    'sys/auth',
  );
  const accessor = (auths.data ?? auths)['userpass/']!.accessor;
  await vault.putPolicy(OPERATOR_POLICY_NAME, operatorPolicy(kvMount));

  const passwordsFile = join(stateDir, 'operators.json');
  const operators: Record<string, string> = existsSync(passwordsFile)
    ? (JSON.parse(await readFile(passwordsFile, 'utf8')) as Record<string, string>)
    : {};
  const members = new Map<string, string[]>();
  for (const [name, groups] of Object.entries(LOCAL_OPERATORS)) {
    operators[name] ??= randomBytes(18).toString('base64url');
    await vault.request('POST', `auth/userpass/users/${name}`, {
      password: operators[name],
      token_policies: [OPERATOR_POLICY_NAME],
      token_ttl: '8h',
    });
    await vault.request('POST', `identity/entity/name/${name}`, { metadata: { source: 'rotor local stack' } });
    const entity = await vault.request<{ data: { id: string; aliases: { mount_accessor: string }[] | null } }>(
      'GET',
      `identity/entity/name/${name}`,
    );
    if (!(entity.data.aliases ?? []).some((a) => a.mount_accessor === accessor))
      await vault.request('POST', 'identity/entity-alias', { name, canonical_id: entity.data.id, mount_accessor: accessor });
    for (const group of [IdentityGroup.OPERATORS, ...groups]) members.set(group, [...(members.get(group) ?? []), entity.data.id]);
  }
  await writeFile(passwordsFile, JSON.stringify(operators, null, 2), { mode: 0o600 });
  for (const [group, ids] of members)
    await vault.request('POST', `identity/group/name/${group}`, { type: 'internal', member_entity_ids: ids });

  await vault.request('POST', 'identity/oidc/config', { issuer: address });
  await vault.request('POST', `identity/oidc/key/${IDENTITY_KEY}`, {
    algorithm: 'RS256',
    allowed_client_ids: '*',
    rotation_period: '24h',
    verification_ttl: '24h',
  });
  // Short-lived: the CLI mints one per action, and the worker accepts each once.
  await vault.request('POST', `identity/oidc/role/${IDENTITY_ROLE}`, { key: IDENTITY_KEY, ttl: '2m', template: TOKEN_TEMPLATE });
  const role = await vault.request<{ data: { client_id: string } }>('GET', `identity/oidc/role/${IDENTITY_ROLE}`);
  // The key signs for rotor's role only (created with "*" because the role needs the key first).
  await vault.request('POST', `identity/oidc/key/${IDENTITY_KEY}`, { allowed_client_ids: [role.data.client_id] });
  return { audience: role.data.client_id, operators };
}

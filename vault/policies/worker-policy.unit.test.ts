import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../config/load-inventory.js';
import { REPO_ROOT } from '../../config/repo-root.js';
import { renderWorkerPolicies, UnsafePolicyPathError, workerPoliciesText } from './worker-policy.js';

const SAMPLE = `
secrets:
  - id: orders-db
    path: apps/orders-db
    owner: team-orders
    provider: { type: postgres, adminPath: _rotor/admin/orders-pg, users: [orders_a, orders_b], database: orders }
  - id: billing-approle
    path: apps/billing-approle
    owner: team-billing
    provider: { type: approle-secret-id, role: billing-service, secretIdSource: vault }
  - id: search-approle
    path: apps/search-approle
    owner: team-search
    provider: { type: approle-secret-id, role: search-service }
breakGlass:
  - { id: orders-emergency, secretId: orders-db, requesterGroups: [requesters], approverGroups: [approvers] }
`;

const renderSet = (yaml: string) =>
  renderWorkerPolicies(parseInventory(yaml), { kvMount: 'rotor', name: 'rotor-worker', inventoryName: 'sample.yaml' });
/** The whole set as one text, as `rotor policy render worker` prints it. */
const render = (yaml: string) => workerPoliciesText(renderSet(yaml));

/** path → capabilities, from the rendered HCL. */
function rulesOf(hcl: string): Map<string, string[]> {
  const rules = new Map<string, string[]>();
  for (const m of hcl.matchAll(/^path "([^"]+)" \{ capabilities = \[([^\]]*)\] \}$/gm))
    rules.set(
      m[1]!,
      [...m[2]!.matchAll(/"([a-z]+)"/g)].map((c) => c[1]!),
    );
  return rules;
}

describe('renderWorkerPolicies', () => {
  const set = renderSet(SAMPLE);
  const hcl = render(SAMPLE);
  /** Every rule of the set (no path is in two policies of it). */
  const rules = rulesOf(hcl);
  const worker = rulesOf(set.worker);
  const own = (id: string) => rulesOf(set.secrets[id]!.hcl);

  it('names the inventory in its header; the set is split by "# policy <name>" lines', () => {
    expect(set.worker.split('\n')[0]).toBe('# rotor worker policy, generated from sample.yaml (rotor policy render worker).');
    expect([...hcl.matchAll(/^# policy (.+)$/gm)].map((m) => m[1])).toEqual([
      'rotor-worker',
      'rotor-worker-secret-billing-approle',
      'rotor-worker-secret-orders-db',
      'rotor-worker-secret-search-approle',
    ]);
    expect(set.secrets['orders-db']!.name).toBe('rotor-worker-secret-orders-db');
  });

  it('the worker policy holds no path of one secret, and mints child tokens only through its own token role', () => {
    expect([...worker.keys()].filter((p) => /apps\/|_rotor\/pending|_rotor\/admin|auth\/approle/.test(p))).toEqual([]);
    expect(worker.get('auth/token/create/rotor-worker-secrets')).toEqual(['update']);
    expect([...worker.keys()].filter((p) => p.startsWith('auth/token/create'))).toEqual(['auth/token/create/rotor-worker-secrets']);
  });

  it("each secret policy names only that secret's paths", () => {
    expect([...own('orders-db').keys()]).toEqual([
      'rotor/data/_rotor/admin/orders-pg',
      'rotor/data/_rotor/pending/orders-db/*',
      'rotor/data/apps/orders-db',
      'rotor/metadata/_rotor/pending/orders-db/*',
      'rotor/metadata/apps/orders-db',
    ]);
    for (const id of Object.keys(set.secrets)) {
      const others = Object.keys(set.secrets).filter((o) => o !== id);
      expect([...own(id).keys()].some((p) => others.some((o) => p.includes(o.split('-')[0]!)))).toBe(false);
    }
    expect([...own('billing-approle').keys()].filter((p) => p.startsWith('auth/'))).toEqual([
      'auth/approle/role/billing-service/role-id',
      'auth/approle/role/billing-service/secret-id',
      'auth/approle/role/billing-service/secret-id-accessor/destroy',
      'auth/approle/role/billing-service/secret-id/lookup',
    ]);
  });

  it("grants each secret's KV path, its staged location and its provider's admin credential", () => {
    expect(rules.get('rotor/data/apps/orders-db')).toEqual(['create', 'read', 'update']);
    expect(rules.get('rotor/metadata/apps/orders-db')).toEqual(['read', 'update']);
    expect(rules.get('rotor/data/_rotor/pending/orders-db/*')).toEqual(['create', 'read', 'update']);
    expect(rules.get('rotor/metadata/_rotor/pending/orders-db/*')).toEqual(['read', 'delete']);
    expect(rules.get('rotor/data/_rotor/admin/orders-pg')).toEqual(['read']);
    expect(rules.get('rotor/data/apps/billing-approle')).toEqual(['create', 'read', 'update']);
  });

  it('nothing under the KV mount by wildcard but the folders rotor owns, nothing under a path the inventory does not name', () => {
    const kv = [...rules.keys()].filter((p) => p.startsWith('rotor/'));
    expect(kv.filter((p) => /[*+]/.test(p)).sort()).toEqual([
      'rotor/data/_rotor/grants/*',
      'rotor/data/_rotor/pending/billing-approle/*',
      'rotor/data/_rotor/pending/orders-db/*',
      'rotor/data/_rotor/pending/search-approle/*',
      'rotor/metadata/_rotor/grants/*',
      'rotor/metadata/_rotor/pending/billing-approle/*',
      'rotor/metadata/_rotor/pending/orders-db/*',
      'rotor/metadata/_rotor/pending/search-approle/*',
    ]);
    expect(hcl).not.toContain('rotor/data/*');
    expect(hcl).not.toContain('rotor/metadata/*');
    expect(hcl).not.toMatch(/"rotor\/(data|metadata)\/apps\/[^"]*\*/);
    // No other target's admin credential, no rotor-internal secret beyond the named ones.
    expect(kv.filter((p) => p.includes('_rotor/admin/'))).toEqual(['rotor/data/_rotor/admin/orders-pg']);
  });

  it("one secret's rules do not reach another's path", () => {
    const only = rulesOf(render(SAMPLE.replace(/ {2}- id: billing-approle[\s\S]*?(?= {2}- id: search)/, '')));
    expect([...only.keys()].some((p) => p.includes('billing'))).toBe(false);
    expect(only.has('rotor/data/apps/search-approle')).toBe(true);
  });

  it('AppRole endpoints only for the roles the inventory names, by how each secret ID is created', () => {
    const approle = [...rules.keys()].filter((p) => p.startsWith('auth/approle/')).sort();
    expect(approle).toEqual([
      'auth/approle/role/billing-service/role-id',
      'auth/approle/role/billing-service/secret-id',
      'auth/approle/role/billing-service/secret-id-accessor/destroy',
      'auth/approle/role/billing-service/secret-id/lookup',
      'auth/approle/role/search-service/custom-secret-id',
      'auth/approle/role/search-service/role-id',
      'auth/approle/role/search-service/secret-id-accessor/destroy',
      'auth/approle/role/search-service/secret-id/lookup',
    ]);
    expect(worker.get('auth/token/accessors')).toEqual(['list', 'sudo']);
  });

  it('break-glass: the named connection, breakglass- roles and creds, wrapping; lease revocation limited to database/creds', () => {
    expect(worker.get('database/config/rotor-orders-db')).toEqual(['create', 'update']);
    expect(rules.get('database/roles/breakglass-*')).toEqual(['create', 'update', 'delete']);
    expect(rules.get('database/creds/breakglass-*')).toEqual(['read']);
    expect(rules.get('sys/wrapping/wrap')).toEqual(['update']);
    expect(rules.get('sys/leases/revoke/database/creds/breakglass-*')).toEqual(['update']);
    expect([...rules.keys()].filter((p) => p.startsWith('sys/leases/')).every((p) => p.includes('/database/creds/'))).toBe(true);
    expect(rules.has('sys/leases/revoke')).toBe(false);
  });

  it('without AppRole secrets or break-glass policies: no token accessors, no database engine, no wrapping', () => {
    const pgOnly = rulesOf(
      render(
        'secrets:\n  - { id: a-db, path: apps/a, owner: t, provider: { type: postgres, adminPath: _rotor/admin/a, users: [a_a, a_b] } }\n',
      ),
    );
    expect([...pgOnly.keys()].filter((p) => /^(auth\/|database\/|sys\/wrapping)/.test(p))).toEqual([
      'auth/token/create/rotor-worker-secrets',
    ]);
  });

  it("rotor's own paths", () => {
    expect(rules.get('rotor/data/_rotor/codec')).toEqual(['read']);
    expect(rules.get('rotor/data/_rotor/grants/*')).toEqual(['create', 'read', 'update']);
    expect(rules.get('rotor/metadata/_rotor/grants/*')).toEqual(['read', 'delete']);
    expect(rules.get('transit/hmac/rotor-audit')).toEqual(['update']);
    expect(rules.get('rotor/data/_rotor/audit/anchor')).toEqual(['create', 'read', 'update']);
    expect(rules.get('rotor/metadata/_rotor/audit/anchor')).toEqual(['read']);
    expect(rules.get('identity/oidc/.well-known/keys')).toEqual(['read']);
  });

  it('is deterministic: sorted, one rule per path, the same text for a reordered inventory', () => {
    for (const policy of [set.worker, ...Object.values(set.secrets).map((s) => s.hcl)]) {
      const paths = [...policy.matchAll(/^path "([^"]+)"/gm)].map((m) => m[1]!);
      expect(paths).toEqual([...paths].sort());
      expect(new Set(paths).size).toBe(paths.length);
    }
    const reordered = SAMPLE.replace(
      /(secrets:\n)( {2}- id: orders-db[\s\S]*?)( {2}- id: billing-approle[\s\S]*?)(breakGlass:)/,
      '$1$3$2$4',
    );
    expect(reordered).not.toBe(SAMPLE);
    expect(render(reordered)).toBe(hcl);
  });

  it('refuses an admin path or AppRole mount that would widen a policy path', () => {
    const withAdmin = (adminPath: string) =>
      `secrets:\n  - { id: a-db, path: apps/a, owner: t, provider: { type: postgres, adminPath: '${adminPath}', users: [a_a, a_b] } }\n`;
    expect(() => render(withAdmin('_rotor/admin/*'))).toThrow(UnsafePolicyPathError);
    expect(() => render(withAdmin('_rotor/../apps/x'))).toThrow(/adminPath/);
    expect(() => render(withAdmin('a" } path "sys/*'))).toThrow(UnsafePolicyPathError);
    const withMount = `secrets:\n  - { id: b, path: apps/b, owner: t, provider: { type: approle-secret-id, role: b, mount: "+" } }\n`;
    expect(() => render(withMount)).toThrow(/provider\.mount/);
  });

  it('every provider type is granted its own admin credential, in its secret policy only, and an unsafe admin path is refused', () => {
    const others = `secrets:
  - { id: inv-db, path: apps/inv-db, owner: t, provider: { type: mysql, adminPath: _rotor/admin/my, users: [inv_a, inv_b] } }
  - { id: cache, path: apps/cache, owner: t, provider: { type: redis-acl, adminPath: _rotor/admin/redis, user: app } }
  - { id: keys, path: apps/keys, owner: t, provider: { type: aws-iam-access-key, adminPath: _rotor/admin/iam, userName: app } }
`;
    const byType = renderSet(others);
    expect([...rulesOf(byType.secrets['inv-db']!.hcl)]).toContainEqual(['rotor/data/_rotor/admin/my', ['read']]);
    expect([...rulesOf(byType.secrets['cache']!.hcl)]).toContainEqual(['rotor/data/_rotor/admin/redis', ['read']]);
    expect([...rulesOf(byType.secrets['keys']!.hcl)]).toContainEqual(['rotor/data/_rotor/admin/iam', ['read']]);
    expect([...rulesOf(byType.worker).keys()].filter((p) => p.includes('_rotor/admin'))).toEqual([]);
    // None of them needs token accessors (only AppRole does).
    expect(rulesOf(byType.worker).has('auth/token/accessors')).toBe(false);
    expect(() => render(others.replace('_rotor/admin/redis', '_rotor/admin/*'))).toThrow(/secrets\[1\]\.provider\.adminPath/);
  });

  it('the example inventory renders', async () => {
    const file = join(REPO_ROOT, 'config', 'inventory.example.yaml');
    const example = rulesOf(
      workerPoliciesText(renderWorkerPolicies(parseInventory(await readFile(file, 'utf8')), { kvMount: 'rotor', name: 'rotor-worker' })),
    );
    expect(example.get('rotor/data/_rotor/admin/demo-postgres')).toEqual(['read']);
    expect(example.has('rotor/data/_rotor/admin/rotor-app')).toBe(false);
  });
});

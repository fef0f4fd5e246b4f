import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VaultClient } from '../../vault/vault-client.js';
import { VaultRequestError } from '../../vault/vault-error.js';
import { DEMO_ADMIN_PATH, postgresSecretYaml } from '../helpers/rotation-fixtures.js';
import { canLogin, startTestStack, type TestStack } from '../helpers/test-stack.js';

/** An AppRole of this file's inventory and one it does not name. */
const NAMED_ROLE = 'worker-policy-named';
const OTHER_ROLE = 'worker-policy-other';
const OTHER_ADMIN = '_rotor/admin/worker-policy-other-target';

const inventory = (extra = '') => `secrets:
${postgresSecretYaml('wp-db')}  - id: wp-approle
    path: apps/wp-approle
    owner: team-test
    provider: { type: approle-secret-id, role: ${NAMED_ROLE}, secretIdSource: vault }
${extra}`;

/** The HTTP status Vault answered `op` with (200 when it succeeded). */
async function status(op: () => Promise<unknown>): Promise<number | undefined> {
  try {
    await op();
    return 200;
  } catch (err) {
    if (err instanceof VaultRequestError) return err.status;
    throw err;
  }
}

async function login(stack: TestStack, roleId: string, secretId: string): Promise<VaultClient> {
  const auth = await new VaultClient(stack.env.ROTOR_VAULT_ADDR).approleLogin(roleId, secretId);
  return new VaultClient(stack.env.ROTOR_VAULT_ADDR, auth.client_token);
}

/** A child token of `worker` holding `policies`, minted as the worker does (vault/vault-session.ts). */
async function child(stack: TestStack, worker: VaultClient, policies: string[]): Promise<VaultClient> {
  const body = await worker.request<{ auth: { client_token: string } }>('POST', `auth/token/create/${stack.workerPolicy}-secrets`, {
    policies,
    ttl: '5m',
  });
  return new VaultClient(stack.env.ROTOR_VAULT_ADDR, body.auth.client_token);
}

describe('the worker policies are generated from the inventory: each secret token reaches what its secret names, OpenBao refuses the rest', () => {
  let stack: TestStack;
  /** The worker's own token: rotor's paths, no secret's. */
  let worker: VaultClient;
  /** Child tokens holding one secret policy each, as the worker uses them. */
  let wpDb: VaultClient;
  let wpApprole: VaultClient;

  beforeAll(async () => {
    stack = await startTestStack('worker-policy', inventory());
    const root = stack.rootVault;
    for (const role of [NAMED_ROLE, OTHER_ROLE]) await root.request('POST', `auth/approle/role/${role}`, { token_ttl: '5m' });
    await root.kvWrite('rotor', 'apps/wp-db', { username: 'wp_db_a', password: 'in-inventory' });
    await root.kvWrite('rotor', 'apps/wp-outside', { username: 'x', password: 'outside-the-inventory' });
    await root.kvWrite('rotor', OTHER_ADMIN, { username: 'admin', password: 'another-targets-admin' });
    // The worker's own token, from the AppRole this file's stack created (its credentials are in env).
    worker = await login(stack, stack.env.ROTOR_VAULT_ROLE_ID, stack.env.ROTOR_VAULT_SECRET_ID);
    wpDb = await child(stack, worker, [`${stack.workerPolicy}-secret-wp-db`]);
    wpApprole = await child(stack, worker, [`${stack.workerPolicy}-secret-wp-approle`]);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("a secret's token reads and writes that secret, its staged location and its target's admin credential", async () => {
    expect((await wpDb.kvRead<{ password: string }>('rotor', 'apps/wp-db'))?.data.password).toBe('in-inventory');
    expect((await wpDb.kvMetadata('rotor', 'apps/wp-db'))?.current_version).toBe(1);
    expect((await wpDb.kvRead('rotor', DEMO_ADMIN_PATH))?.data).toBeDefined();
    await wpDb.kvWrite('rotor', '_rotor/pending/wp-db/r1', { username: 'wp_db_b', password: 'staged' }, 0);
    await wpDb.kvDeleteAll('rotor', '_rotor/pending/wp-db/r1');
    // Its AppRole: the role the inventory names mints a secret ID.
    expect(await status(() => wpApprole.request('POST', `auth/approle/role/${NAMED_ROLE}/secret-id`, {}))).toBe(200);
    // An AppRole secret in the inventory: the token accessors an emergency rotation ends (the worker's own token).
    expect(await status(() => worker.request('LIST', 'auth/token/accessors'))).toBe(200);
  });

  it("a secret's token is refused (403) another secret's paths; the worker's own token is refused every secret's", async () => {
    await stack.rootVault.kvWrite('rotor', 'apps/wp-approle', { role_id: 'r', secret_id: 's' });
    expect(await status(() => wpDb.kvRead('rotor', 'apps/wp-approle'))).toBe(403);
    expect(await status(() => wpDb.kvWrite('rotor', '_rotor/pending/wp-approle/r1', { secret_id: 'x' }, 0))).toBe(403);
    expect(await status(() => wpDb.request('POST', `auth/approle/role/${NAMED_ROLE}/secret-id`, {}))).toBe(403);
    expect(await status(() => wpApprole.kvRead('rotor', 'apps/wp-db'))).toBe(403);
    expect(await status(() => wpApprole.kvRead('rotor', DEMO_ADMIN_PATH))).toBe(403);
    // Nothing of rotor's own paths either: the child holds its secret policy only.
    expect(await status(() => wpDb.request('LIST', 'auth/token/accessors'))).toBe(403);
    expect(await status(() => wpDb.kvRead('rotor', '_rotor/codec'))).toBe(403);

    expect(await status(() => worker.kvRead('rotor', 'apps/wp-db'))).toBe(403);
    expect(await status(() => worker.kvMetadata('rotor', 'apps/wp-db'))).toBe(403);
    expect(await status(() => worker.kvWrite('rotor', '_rotor/pending/wp-db/r2', { password: 'x' }, 0))).toBe(403);
    expect(await status(() => worker.kvRead('rotor', DEMO_ADMIN_PATH))).toBe(403);
    expect(await status(() => worker.request('POST', `auth/approle/role/${NAMED_ROLE}/secret-id`, {}))).toBe(403);
  });

  it('the worker mints child tokens for its own secret policies only', async () => {
    const mint = (policies: string[]) => status(() => child(stack, worker, policies));
    expect(await mint([`${stack.workerPolicy}-secret-wp-db`])).toBe(200);
    // Its own policy, the stack's worker policy or secret policies, root: refused by the token role.
    expect(await mint([stack.workerPolicy])).not.toBe(200);
    expect(await mint(['rotor-worker'])).not.toBe(200);
    expect(await mint(['rotor-worker-secret-wp-db'])).not.toBe(200);
    expect(await mint(['root'])).not.toBe(200);
    // Not without the token role, and not through the stack worker's role.
    expect(await status(() => worker.request('POST', 'auth/token/create', { policies: [`${stack.workerPolicy}-secret-wp-db`] }))).toBe(403);
    expect(
      await status(() => worker.request('POST', 'auth/token/create/rotor-worker-secrets', { policies: ['rotor-worker-secret-x'] })),
    ).toBe(403);
  });

  it("is refused (403) a KV path outside the inventory, another secret's staged location, and any listing of the mount", async () => {
    for (const token of [wpDb, wpApprole]) {
      expect(await status(() => token.kvRead('rotor', 'apps/wp-outside'))).toBe(403);
      expect(await status(() => token.kvWrite('rotor', '_rotor/pending/someone-else/r1', { password: 'x' }, 0))).toBe(403);
      expect(await status(() => token.request('LIST', 'rotor/metadata/apps'))).toBe(403);
      expect(await status(() => token.request('DELETE', 'rotor/metadata/apps/wp-db'))).toBe(403);
    }
    expect(await status(() => worker.kvRead('rotor', 'apps/wp-outside'))).toBe(403);
    expect(await status(() => worker.kvWrite('rotor', 'apps/wp-outside', { password: 'overwritten' }))).toBe(403);
    expect(await status(() => worker.kvMetadata('rotor', 'apps/wp-outside'))).toBe(403);
    expect(await status(() => worker.kvWrite('rotor', '_rotor/pending/someone-else/r1', { password: 'x' }, 0))).toBe(403);
    expect(await status(() => worker.request('LIST', 'rotor/metadata/apps'))).toBe(403);
    expect(await status(() => worker.request('DELETE', 'rotor/metadata/apps/wp-db'))).toBe(403);
    expect((await stack.rootVault.kvRead<{ password: string }>('rotor', 'apps/wp-outside'))?.data.password).toBe('outside-the-inventory');
  });

  it("is refused (403) another target's admin credential and rotor's own database password", async () => {
    for (const token of [worker, wpDb, wpApprole]) {
      expect(await status(() => token.kvRead('rotor', OTHER_ADMIN))).toBe(403);
      expect(await status(() => token.kvRead('rotor', '_rotor/admin/rotor-app'))).toBe(403);
    }
  });

  it('is refused (403) a secret ID of an AppRole role the inventory does not name, its own role included', async () => {
    for (const token of [worker, wpApprole]) {
      expect(await status(() => token.request('POST', `auth/approle/role/${OTHER_ROLE}/secret-id`, {}))).toBe(403);
      expect(await status(() => token.request('POST', `auth/approle/role/${OTHER_ROLE}/custom-secret-id`, { secret_id: 'x' }))).toBe(403);
      expect(await status(() => token.request('POST', `auth/approle/role/${stack.workerPolicy}/secret-id`, {}))).toBe(403);
      expect(await status(() => token.request('POST', 'auth/approle/role/rotor-worker/secret-id', {}))).toBe(403);
    }
    // No break-glass policy in this inventory: no database engine, no response wrapping.
    expect(await status(() => worker.request('GET', 'database/creds/breakglass-x'))).toBe(403);
    expect(await status(() => worker.wrap({ a: 'b' }, '1m'))).toBe(403);
  });

  it('follows the inventory: a secret added with writeInventory becomes reachable, and the stack worker holds only the stack inventory', async () => {
    await stack.writeInventory(inventory(postgresSecretYaml('wp-added')));
    const added = await child(stack, worker, [`${stack.workerPolicy}-secret-wp-added`]);
    // 404, not 403: allowed, and nothing there yet.
    expect(await status(() => added.request('GET', 'rotor/data/apps/wp-added'))).toBe(404);
    expect(await status(() => added.kvRead('rotor', 'apps/wp-outside'))).toBe(403);
    expect(await status(() => worker.request('GET', 'rotor/data/apps/wp-added'))).toBe(403);

    // The stack's own worker AppRole (bootstrap) was rendered from the stack's inventory, not this file's.
    const stackWorker = await login(stack, stack.file.env.ROTOR_VAULT_ROLE_ID!, stack.file.env.ROTOR_VAULT_SECRET_ID!);
    expect(await status(() => stackWorker.kvRead('rotor', 'apps/wp-db'))).toBe(403);
    expect(await status(() => child(stack, stackWorker, [`${stack.workerPolicy}-secret-wp-db`]))).toBe(403);
    expect(await status(() => stackWorker.kvRead('rotor', 'apps/wp-outside'))).toBe(403);
    expect(await status(() => stackWorker.kvRead('rotor', '_rotor/admin/rotor-app'))).toBe(403);
  });

  it("break-glass: its target's connection and a breakglass- lease, revoked by URL; no other connection, no lease by body", async () => {
    const breakGlass =
      'breakGlass:\n  - { id: wp-emergency, secretId: wp-db, requesterGroups: [wp-req], approverGroups: [wp-appr], approvals: 1 }\n';
    await stack.writeInventory(inventory(`${postgresSecretYaml('wp-added')}${breakGlass}`));
    const admin = (await wpDb.kvRead<{ username: string; password: string; host: string; port: string }>('rotor', DEMO_ADMIN_PATH))!.data;
    const connection = {
      plugin_name: 'postgresql-database-plugin',
      connection_url: `postgresql://{{username}}:{{password}}@${admin.host}:${admin.port}/demo?sslmode=disable`,
      username: admin.username,
      password: admin.password,
      allowed_roles: ['breakglass-*'],
    };
    expect(await status(() => worker.request('POST', 'database/config/rotor-wp-added', connection))).toBe(403);
    await worker.request('POST', 'database/config/rotor-wp-db', connection);
    await worker.request('POST', 'database/roles/breakglass-wp-policy', {
      db_name: 'rotor-wp-db',
      default_ttl: '5m',
      max_ttl: '5m',
      creation_statements: [
        `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'`,
        'GRANT CONNECT ON DATABASE "demo" TO "{{name}}"',
      ],
      revocation_statements: ['REVOKE ALL ON DATABASE "demo" FROM "{{name}}"', 'DROP ROLE IF EXISTS "{{name}}"'],
    });
    const creds = await worker.request<{ lease_id: string; data: { username: string; password: string } }>(
      'GET',
      'database/creds/breakglass-wp-policy',
    );
    expect(await canLogin(stack.file, creds.data.username, creds.data.password)).toBe(true);
    // Only by URL under database/creds/breakglass-: the body form names no path a policy could limit.
    expect(await status(() => worker.request('PUT', 'sys/leases/revoke', { lease_id: creds.lease_id }))).toBe(403);
    await worker.revokeLease(creds.lease_id);
    expect(await canLogin(stack.file, creds.data.username, creds.data.password)).toBe(false);
    await worker.request('DELETE', 'database/roles/breakglass-wp-policy');
    expect(await status(() => worker.request('POST', 'database/roles/other-role', { db_name: 'rotor-wp-db' }))).toBe(403);
  });

  it('a secret removed from the inventory loses its policy: its token is refused at once, and no new one is minted', async () => {
    const added = await child(stack, worker, [`${stack.workerPolicy}-secret-wp-added`]);
    expect(await status(() => added.request('GET', 'rotor/data/apps/wp-added'))).toBe(404);
    await stack.writeInventory(inventory());
    expect(await status(() => added.request('GET', 'rotor/data/apps/wp-added'))).toBe(403);
    const policies = (await stack.rootVault.request<{ data: { keys: string[] } }>('LIST', 'sys/policies/acl')).data.keys;
    expect(policies.filter((p) => p.startsWith(`${stack.workerPolicy}-secret-`)).sort()).toEqual([
      `${stack.workerPolicy}-secret-wp-approle`,
      `${stack.workerPolicy}-secret-wp-db`,
    ]);
  });
});

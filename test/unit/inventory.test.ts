import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseDuration } from '../../config/duration.js';
import { fieldPath, InventoryError, loadInventory, parseInventory } from '../../config/load-inventory.js';

const FILE = 'inventories/test.yaml';
const EXAMPLE = fileURLToPath(new URL('../../config/inventory.example.yaml', import.meta.url));

type Raw = Record<string, unknown> & { secrets: Record<string, unknown>[]; plans?: Record<string, unknown>[] };

/** A minimal valid inventory as plain data: tests mutate a fresh copy and serialise it to YAML. */
function rawInventory(): Raw {
  return {
    secrets: [
      {
        id: 'payments-db',
        path: 'apps/payments-db',
        owner: 'team-payments',
        provider: { type: 'postgres', adminPath: '_rotor/admin/demo-postgres', users: ['payments_a', 'payments_b'] },
        consumers: [
          { name: 'billing', confirm: { mode: 'webhook', url: 'http://127.0.0.1:9101/reload' } },
          { name: 'ledger', confirm: { mode: 'health', url: 'https://ledger.internal/health' } },
          { name: 'analyst', confirm: { mode: 'manual' } },
          { name: 'sessions', confirm: { mode: 'pg-sessions' } },
        ],
      },
      {
        id: 'billing-approle',
        path: 'apps/billing/approle',
        owner: 'team-billing',
        provider: { type: 'approle-secret-id', role: 'billing-service' },
        consumers: [{ name: 'billing', confirm: { mode: 'manual' } }],
      },
    ],
  };
}

function secretAt(raw: Raw, i: number): Record<string, unknown> {
  const s = raw.secrets[i];
  if (!s) throw new Error(`fixture has no secrets[${i}]`);
  return s;
}

function consumersOf(raw: Raw, i: number): Record<string, unknown>[] {
  return secretAt(raw, i)['consumers'] as Record<string, unknown>[];
}

/** The problems of an inventory that must be rejected; fails the test if it parses or throws anything else. */
function problemsOf(text: string, file = FILE): string[] {
  let caught: unknown;
  try {
    parseInventory(text, file);
  } catch (err) {
    caught = err;
  }
  expect(caught, 'the inventory should have been rejected').toBeInstanceOf(InventoryError);
  const error = caught as InventoryError;
  expect(error.name).toBe('InventoryError');
  expect(error.file).toBe(file);
  expect(error.problems.length).toBeGreaterThan(0);
  // The message names the file and lists every problem.
  expect(error.message.split('\n')[0]).toBe(`inventory ${file} is invalid:`);
  for (const p of error.problems) expect(error.message).toContain(`  - ${p}`);
  return error.problems;
}

const rejected = (raw: unknown) => problemsOf(stringify(raw));

describe('parseInventory: a valid inventory', () => {
  it('parses and applies every default', () => {
    const inv = parseInventory(stringify(rawInventory()), FILE);

    expect(inv.plans).toEqual([]);
    expect(inv.secrets).toHaveLength(2);
    const [db, approle] = inv.secrets;

    expect(db).toMatchObject({
      id: 'payments-db',
      path: 'apps/payments-db',
      owner: 'team-payments',
      tags: [],
      strategy: 'dual',
      overlap: 60_000,
      provider: { type: 'postgres', adminPath: '_rotor/admin/demo-postgres', users: ['payments_a', 'payments_b'] },
    });
    expect(db?.cadence).toBeUndefined();
    expect(db?.consumers.map((c) => [c.name, c.confirm])).toEqual([
      ['billing', { mode: 'webhook', url: 'http://127.0.0.1:9101/reload', timeout: 120_000 }],
      ['ledger', { mode: 'health', url: 'https://ledger.internal/health', timeout: 120_000 }],
      ['analyst', { mode: 'manual', timeout: 3_600_000 }],
      ['sessions', { mode: 'pg-sessions', timeout: 300_000 }],
    ]);

    expect(approle?.provider).toEqual({ type: 'approle-secret-id', role: 'billing-service', mount: 'approle', secretIdSource: 'rotor' });
    expect(approle?.tags).toEqual([]);
    expect(approle?.strategy).toBe('dual');
    expect(approle?.overlap).toBe(60_000);
  });

  it('defaults consumers to [] and cadence.paused to false', () => {
    const raw = rawInventory();
    delete secretAt(raw, 1)['consumers'];
    secretAt(raw, 1)['cadence'] = { every: '1h' };
    const inv = parseInventory(stringify(raw));
    expect(inv.secrets[1]?.consumers).toEqual([]);
    expect(inv.secrets[1]?.cadence).toEqual({ every: 3_600_000, paused: false });
  });

  it('keeps explicit values over the defaults', () => {
    const raw = rawInventory();
    Object.assign(secretAt(raw, 0), { tags: ['pci', 'postgres'], strategy: 'dual', overlap: '15s' });
    secretAt(raw, 1)['provider'] = {
      type: 'approle-secret-id',
      role: 'billing-service',
      mount: 'approle-consumers',
      secretIdSource: 'vault',
    };
    secretAt(raw, 1)['cadence'] = { cron: '0 3 * * *', jitter: '5m', paused: true };
    consumersOf(raw, 0)[0] = { name: 'billing', confirm: { mode: 'webhook', url: 'http://127.0.0.1:9101/reload', timeout: '1m' } };
    raw.plans = [{ id: 'checkout', secrets: ['payments-db', 'billing-approle'] }];

    const inv = parseInventory(stringify(raw));
    expect(inv.secrets[0]?.tags).toEqual(['pci', 'postgres']);
    expect(inv.secrets[0]?.overlap).toBe(15_000);
    expect(inv.secrets[0]?.consumers[0]?.confirm).toEqual({ mode: 'webhook', url: 'http://127.0.0.1:9101/reload', timeout: 60_000 });
    expect(inv.secrets[1]?.provider).toEqual({
      type: 'approle-secret-id',
      role: 'billing-service',
      mount: 'approle-consumers',
      secretIdSource: 'vault',
    });
    expect(inv.secrets[1]?.cadence).toEqual({ cron: '0 3 * * *', jitter: 300_000, paused: true });
    expect(inv.plans).toEqual([{ id: 'checkout', secrets: ['payments-db', 'billing-approle'] }]);
  });

  it('reads hand-written YAML with flow mappings and comments', () => {
    const inv = parseInventory(
      [
        '# comment',
        'secrets:',
        '  - id: a1',
        '    path: apps/a1',
        '    owner: team-a',
        '    provider: { type: postgres, adminPath: _rotor/admin/pg, users: [a_one, a_two], database: demo }',
        '    overlap: 2h',
        '    consumers:',
        '      - { name: svc, healthUrl: "http://127.0.0.1:1/health", confirm: { mode: health, url: "http://127.0.0.1:1/v", timeout: 1d } }',
      ].join('\n'),
    );
    expect(inv.secrets[0]?.provider).toEqual({
      type: 'postgres',
      adminPath: '_rotor/admin/pg',
      users: ['a_one', 'a_two'],
      database: 'demo',
    });
    expect(inv.secrets[0]?.overlap).toBe(7_200_000);
    expect(inv.secrets[0]?.consumers[0]).toEqual({
      name: 'svc',
      healthUrl: 'http://127.0.0.1:1/health',
      confirm: { mode: 'health', url: 'http://127.0.0.1:1/v', timeout: 86_400_000 },
    });
  });

  it.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['250ms', 250],
    [1500, 1500],
    [0, 0],
  ])('accepts overlap %j as %d ms', (overlap, ms) => {
    const raw = rawInventory();
    secretAt(raw, 0)['overlap'] = overlap;
    expect(parseInventory(stringify(raw)).secrets[0]?.overlap).toBe(ms);
  });
});

describe('parseInventory: rejected inventories name the field and what would be valid', () => {
  it('a confirm URL that is not http(s): secrets[1].consumers[0].confirm.url', () => {
    const raw = rawInventory();
    consumersOf(raw, 1)[0] = { name: 'billing', confirm: { mode: 'webhook', url: 'ftp://127.0.0.1/reload' } };
    expect(rejected(raw)).toEqual(['secrets[1].consumers[0].confirm.url: must be an http(s) URL such as http://127.0.0.1:9101/reload']);
  });

  it('a confirm URL that is not a URL at all, and a bad healthUrl', () => {
    const raw = rawInventory();
    consumersOf(raw, 0)[1] = { name: 'ledger', healthUrl: 'javascript:alert(1)', confirm: { mode: 'health', url: 'not a url' } };
    expect(rejected(raw)).toEqual([
      'secrets[0].consumers[1].healthUrl: must be an http(s) URL such as http://127.0.0.1:9101/reload',
      'secrets[0].consumers[1].confirm.url: must be an http(s) URL such as http://127.0.0.1:9101/reload',
    ]);
  });

  it.each(['Payments-DB', '-payments', 'payments_db', 'payments db', '', 'a'.repeat(64)])('secret id %j: secrets[0].id', (id) => {
    const raw = rawInventory();
    secretAt(raw, 0)['id'] = id;
    expect(rejected(raw)).toEqual(['secrets[0].id: use lower-case letters, digits and dashes (e.g. "payments-db"), at most 63 characters']);
  });

  it('accepts a 63-character id (the upper bound)', () => {
    const raw = rawInventory();
    secretAt(raw, 0)['id'] = 'a'.repeat(63);
    expect(parseInventory(stringify(raw)).secrets[0]?.id).toBe('a'.repeat(63));
  });

  it('a consumer name that is not an id', () => {
    const raw = rawInventory();
    consumersOf(raw, 0)[2] = { name: 'Analyst', confirm: { mode: 'manual' } };
    expect(rejected(raw)).toEqual([
      'secrets[0].consumers[2].name: use lower-case letters, digits and dashes (e.g. "payments-db"), at most 63 characters',
    ]);
  });

  it('identical alternating users: secrets[0].provider.users', () => {
    const raw = rawInventory();
    secretAt(raw, 0)['provider'] = { type: 'postgres', adminPath: '_rotor/admin/pg', users: ['app_a', 'app_a'] };
    expect(rejected(raw)).toEqual(['secrets[0].provider.users: the two alternating users must differ']);
  });

  it('a user that is not a PostgreSQL role name: secrets[0].provider.users[1]', () => {
    const raw = rawInventory();
    secretAt(raw, 0)['provider'] = { type: 'postgres', adminPath: '_rotor/admin/pg', users: ['app_a', 'App-B'] };
    expect(rejected(raw)).toEqual(['secrets[0].provider.users[1]: a lower-case PostgreSQL role name such as "app_a"']);
  });

  it('a grantRole that is not a role name and an empty validationQuery: secrets[0].provider.grantRole / validationQuery', () => {
    const raw = rawInventory();
    secretAt(raw, 0)['provider'] = {
      type: 'postgres',
      adminPath: '_rotor/admin/pg',
      users: ['app_a', 'app_b'],
      grantRole: 'App Readers',
      validationQuery: '  ',
    };
    expect(rejected(raw)).toEqual([
      'secrets[0].provider.grantRole: a lower-case PostgreSQL role name such as "app_a"',
      'secrets[0].provider.validationQuery: a SQL statement such as "SELECT 1 FROM orders LIMIT 1"',
    ]);
  });

  it('an empty adminPath', () => {
    const raw = rawInventory();
    secretAt(raw, 0)['provider'] = { type: 'postgres', adminPath: '', users: ['app_a', 'app_b'] };
    expect(rejected(raw)).toEqual([
      'secrets[0].provider.adminPath: the KV path of the admin credential, e.g. "_rotor/admin/demo-postgres"',
    ]);
  });

  it.each([{ type: 'oracle', adminPath: 'x', users: ['a', 'b'] }, { role: 'billing-service' }])(
    'unknown or missing provider.type %j',
    (provider) => {
      const raw = rawInventory();
      secretAt(raw, 1)['provider'] = provider;
      expect(rejected(raw)).toEqual([
        'secrets[1].provider.type: provider.type must be "postgres", "approle-secret-id", "mysql", "redis-acl" or "aws-iam-access-key"',
      ]);
    },
  );

  it('an AppRole name with upper-case letters', () => {
    const raw = rawInventory();
    secretAt(raw, 1)['provider'] = { type: 'approle-secret-id', role: 'Billing' };
    expect(rejected(raw)).toEqual(['secrets[1].provider.role: an AppRole name such as "billing-service"']);
  });

  it.each([{ mode: 'email' }, {}])('unknown or missing confirm mode %j', (confirm) => {
    const raw = rawInventory();
    consumersOf(raw, 0)[2] = { name: 'analyst', confirm };
    const problems = rejected(raw);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^secrets\[0\]\.consumers\[2\]\.confirm\.mode: /);
    for (const mode of ['webhook', 'health', 'manual', 'pg-sessions', 'sessions']) expect(problems[0]).toContain(`'${mode}'`);
  });

  it('a webhook confirmation without a url', () => {
    const raw = rawInventory();
    consumersOf(raw, 0)[0] = { name: 'billing', confirm: { mode: 'webhook' } };
    expect(rejected(raw)).toEqual(['secrets[0].consumers[0].confirm.url: must be an http(s) URL such as http://127.0.0.1:9101/reload']);
  });

  it('a pg-sessions consumer on an approle-secret-id secret', () => {
    const raw = rawInventory();
    consumersOf(raw, 1)[0] = { name: 'billing', confirm: { mode: 'pg-sessions' } };
    expect(rejected(raw)).toEqual(['secrets[1].consumers[0].confirm.mode: "pg-sessions" works only with the postgres provider']);
  });

  it('a sessions consumer on a target that lists no sessions (approle-secret-id)', () => {
    const raw = rawInventory();
    consumersOf(raw, 1)[0] = { name: 'billing', confirm: { mode: 'sessions' } };
    const [problem, ...rest] = rejected(raw);
    expect(rest).toEqual([]);
    expect(problem).toMatch(
      /^secrets\[1\]\.consumers\[0\]\.confirm\.mode: "sessions" needs a target that lists its sessions \(postgres, .*\); approle-secret-id cannot: use webhook, health or manual$/,
    );
  });

  it('a sessions consumer with a malformed clientName', () => {
    const raw = rawInventory();
    consumersOf(raw, 0)[0] = { name: 'billing', confirm: { mode: 'sessions', clientName: 'billing app; DROP' } };
    expect(rejected(raw)).toEqual([
      'secrets[0].consumers[0].confirm.clientName: the name this consumer connects with, e.g. "billing" (letters, digits, _ . : -)',
    ]);
  });

  it('a sessions consumer on postgres, counting one client name', () => {
    const raw = rawInventory();
    consumersOf(raw, 0)[0] = { name: 'billing', confirm: { mode: 'sessions', clientName: 'billing' } };
    expect(parseInventory(stringify(raw)).secrets[0]!.consumers[0]!.confirm).toEqual({
      mode: 'sessions',
      clientName: 'billing',
      timeout: 300_000,
    });
  });

  it('two secrets that would rotate one credential (a shared role, the same AppRole)', () => {
    const raw = rawInventory();
    raw.secrets.push(
      {
        id: 'refunds-db',
        path: 'apps/refunds-db',
        owner: 't',
        provider: { type: 'postgres', adminPath: '_rotor/admin/demo-postgres', users: ['refunds_a', 'payments_b'] },
      },
      { id: 'billing-2', path: 'apps/billing-2', owner: 't', provider: { type: 'approle-secret-id', role: 'billing-service' } },
    );
    expect(rejected(raw)).toEqual([
      'secrets[2].provider: rotates what secrets[0] ("payments-db") rotates (payments_b): two secrets would change one credential against each other; keep one of them',
      'secrets[3].provider: rotates what secrets[1] ("billing-approle") rotates (billing-service): two secrets would change one credential against each other; keep one of them',
    ]);
    // The same role names behind another admin credential (another cluster) are another credential.
    (secretAt(raw, 2).provider as Record<string, unknown>).adminPath = '_rotor/admin/other-cluster';
    expect(rejected(raw)).toHaveLength(1);
  });

  it('a consumer listed twice on one secret', () => {
    const raw = rawInventory();
    consumersOf(raw, 0).push({ name: 'billing', confirm: { mode: 'manual' } });
    expect(rejected(raw)).toEqual(['secrets[0].consumers[4].name: consumer "billing" is listed twice']);
  });

  it('allows the same consumer name on different secrets', () => {
    // "billing" consumes both fixtures' secrets.
    expect(parseInventory(stringify(rawInventory())).secrets.map((s) => s.consumers.some((c) => c.name === 'billing'))).toEqual([
      true,
      true,
    ]);
  });

  it('duplicate secret ids', () => {
    const raw = rawInventory();
    secretAt(raw, 1)['id'] = 'payments-db';
    expect(rejected(raw)).toEqual(['secrets[1].id: duplicate secret id "payments-db" (also secrets[0])']);
  });

  it('duplicate paths', () => {
    const raw = rawInventory();
    secretAt(raw, 1)['path'] = 'apps/payments-db';
    expect(rejected(raw)).toEqual(['secrets[1].path: path "apps/payments-db" is already used by secrets[0]']);
  });

  it('a path under the reserved _rotor/ prefix', () => {
    const raw = rawInventory();
    secretAt(raw, 0)['path'] = '_rotor/admin/demo-postgres';
    expect(rejected(raw)).toEqual(['secrets[0].path: "_rotor/" is reserved for rotor itself (admin credentials, staged credentials)']);
  });

  it.each(['/apps/payments-db', 'apps/payments-db/', 'apps//payments-db', 'apps/payments db', '.hidden/x'])(
    'a malformed KV path %j',
    (path) => {
      const raw = rawInventory();
      secretAt(raw, 0)['path'] = path;
      expect(rejected(raw)).toEqual(['secrets[0].path: a KV v2 path under the rotor mount, such as "apps/payments-db" (no leading slash)']);
    },
  );

  it.each(['apps/../_rotor/admin/demo-postgres', 'apps/./payments-db'])('rejects "." and ".." segments in %j', (path) => {
    const raw = rawInventory();
    secretAt(raw, 0)['path'] = path;
    expect(rejected(raw)).toContain('secrets[0].path: no "." or ".." segments ("apps/../x" would resolve to "x")');
  });

  it.each([
    [{ cron: '61 3 * * * *' }, 'secrets[0].cadence.cron: must be a five-field cron expression'],
    [{ cron: 'every day' }, 'secrets[0].cadence.cron: must be a five-field cron expression'],
    [{ cron: '0 3 * * 0', every: '1h' }, 'secrets[0].cadence: give exactly one of cron'],
    [{ paused: true }, 'secrets[0].cadence: give exactly one of cron'],
  ])('rejects the cadence %j', (cadence, message) => {
    const raw = rawInventory();
    secretAt(raw, 0)['cadence'] = cadence;
    expect(rejected(raw).join('\n')).toContain(message);
  });

  it('accepts a Temporal cron shorthand', () => {
    const raw = rawInventory();
    secretAt(raw, 0)['cadence'] = { cron: '@daily' };
    expect(parseInventory(stringify(raw), FILE).secrets[0]?.cadence).toEqual({ cron: '@daily', paused: false });
  });

  it('a break-glass policy on an unknown secret, or naming no identity group', () => {
    // Membership lives in Vault identity groups, so "more approvals than approvers" is no longer
    // knowable here: the workflow counts distinct verified approvers instead.
    const raw = {
      ...rawInventory(),
      breakGlass: [{ id: 'bg', secretId: 'nope', requesterGroups: [], approverGroups: [''], approvals: 2 }],
    };
    const problems = rejected(raw).join('\n');
    expect(problems).toContain(
      'breakGlass[0].requesterGroups: name at least one Vault identity group, e.g. ["rotor-breakglass-requesters"]',
    );
    expect(problems).toContain('breakGlass[0].approverGroups[0]: a Vault identity group name');
    expect(problems).toContain('breakGlass[0].secretId: unknown secret "nope"');
  });

  it('a break-glass policy listing names (requesters/approvers) is refused: names are declared, groups are proven', () => {
    const raw = {
      ...rawInventory(),
      breakGlass: [{ id: 'bg', secretId: 'payments-db', requesters: ['alice'], approvers: ['carol', 'dave'], approvals: 2 }],
    };
    const problems = rejected(raw).join('\n');
    expect(problems).toContain(
      'breakGlass[0].requesters: "requesters" listed names, which rotor no longer trusts: use requesterGroups with Vault identity group names, e.g. requesterGroups: ["rotor-breakglass-requesters"]',
    );
    expect(problems).toContain(
      'breakGlass[0].approvers: "approvers" listed names, which rotor no longer trusts: use approverGroups with Vault identity group names, e.g. approverGroups: ["rotor-breakglass-approvers"]',
    );
    // Adding the groups does not make the names acceptable: they would be silently ignored.
    const both = { ...raw, breakGlass: [{ ...raw.breakGlass[0], requesterGroups: ['g-req'], approverGroups: ['g-app'] }] };
    expect(rejected(both).join('\n')).toMatch(/breakGlass\[0\]\.requesters: "requesters" listed names/);
  });

  it('a break-glass policy with identity groups parses; incident responders default to rotor-incident-responders', () => {
    const raw = {
      ...rawInventory(),
      breakGlass: [{ id: 'bg', secretId: 'payments-db', requesterGroups: ['g-req'], approverGroups: ['g-app'], approvals: 2 }],
    };
    const inv = parseInventory(stringify(raw), FILE);
    expect(inv.breakGlass[0]).toMatchObject({ id: 'bg', requesterGroups: ['g-req'], approverGroups: ['g-app'], approvals: 2 });
    expect(inv.breakGlass[0]).not.toHaveProperty('requesters');
    expect(inv.breakGlass[0]).not.toHaveProperty('approvers');
    expect(inv.incident).toEqual({ allowSelfUnfreeze: false, responderGroups: ['rotor-incident-responders'] });
    const own = parseInventory(stringify({ ...rawInventory(), incident: { responderGroups: ['sec-oncall'] } }), FILE);
    expect(own.incident).toEqual({ allowSelfUnfreeze: false, responderGroups: ['sec-oncall'] });
    expect(rejected({ ...rawInventory(), incident: { responderGroups: [] } }).join('\n')).toContain(
      'incident.responderGroups: name at least one Vault identity group',
    );
  });

  it('rejects a misspelled key instead of ignoring it', () => {
    const raw = rawInventory();
    secretAt(raw, 0)['overlpa'] = '5m';
    expect(rejected(raw).join('\n')).toMatch(/secrets\[0\].*overlpa/);
  });

  it('a plan naming an unknown secret: plans[0].secrets[1]', () => {
    const raw = rawInventory();
    raw.plans = [{ id: 'checkout', secrets: ['payments-db', 'ledger-db'] }];
    expect(rejected(raw)).toEqual(['plans[0].secrets[1]: unknown secret "ledger-db"; declared: payments-db, billing-approle']);
  });

  it('a plan with fewer than two secrets', () => {
    const raw = rawInventory();
    raw.plans = [{ id: 'checkout', secrets: ['payments-db'] }];
    expect(rejected(raw)).toEqual(['plans[0].secrets: a plan names at least two secrets']);
  });

  it('no secrets', () => {
    expect(problemsOf('secrets: []\n')).toEqual(['secrets: declare at least one secret']);
  });

  it('an empty document', () => {
    expect(problemsOf('')).toEqual(['(top level): Invalid input: expected object, received null']);
  });

  it('a strategy other than dual', () => {
    const raw = rawInventory();
    secretAt(raw, 0)['strategy'] = 'single';
    expect(rejected(raw)).toEqual(['secrets[0].strategy: strategy must be "dual" (old and new credential overlap)']);
  });

  it('a missing owner', () => {
    const raw = rawInventory();
    delete secretAt(raw, 0)['owner'];
    expect(rejected(raw)).toEqual(['secrets[0].owner: Invalid input: expected string, received undefined']);
  });

  it.each(['5 minutes', '5', '-5s', '1w', '5M', ''])('overlap %j is not a duration', (overlap) => {
    const raw = rawInventory();
    secretAt(raw, 0)['overlap'] = overlap;
    expect(rejected(raw)).toEqual([`secrets[0].overlap: "${overlap}" is not a duration: write e.g. "30s", "5m", "2h" or "1d"`]);
  });

  it('a negative number of milliseconds and a bad confirm timeout', () => {
    const raw = rawInventory();
    secretAt(raw, 0)['overlap'] = -1;
    consumersOf(raw, 0)[2] = { name: 'analyst', confirm: { mode: 'manual', timeout: 'soon' } };
    expect(rejected(raw)).toEqual([
      'secrets[0].overlap: "-1" is not a duration: write e.g. "30s", "5m", "2h" or "1d"',
      'secrets[0].consumers[2].confirm.timeout: "soon" is not a duration: write e.g. "30s", "5m", "2h" or "1d"',
    ]);
  });

  it('reports every problem in one error, each with its own path', () => {
    const raw = rawInventory();
    secretAt(raw, 0)['id'] = 'Bad';
    secretAt(raw, 1)['provider'] = { type: 'ldap' };
    consumersOf(raw, 0)[0] = { name: 'billing', confirm: { mode: 'webhook', url: 'ftp://x/y' } };
    expect(rejected(raw)).toEqual([
      'secrets[0].id: use lower-case letters, digits and dashes (e.g. "payments-db"), at most 63 characters',
      'secrets[0].consumers[0].confirm.url: must be an http(s) URL such as http://127.0.0.1:9101/reload',
      'secrets[1].provider.type: provider.type must be "postgres", "approle-secret-id", "mysql", "redis-acl" or "aws-iam-access-key"',
    ]);
  });

  it('invalid YAML: the problem names the line', () => {
    const problems = problemsOf(['secrets:', '  - id: a', '    path: [unclosed', '  owner: x', ''].join('\n'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^not valid YAML at line 4: /);
  });

  it('invalid YAML: a bad indent on line 3', () => {
    const problems = problemsOf(['secrets:', '  - id: a', '   bad: indent', ''].join('\n'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^not valid YAML at line 3: /);
  });

  it('uses "<inline>" as the file name by default', () => {
    let caught: unknown;
    try {
      parseInventory('secrets: []');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InventoryError);
    expect((caught as InventoryError).file).toBe('<inline>');
    expect((caught as InventoryError).message).toBe('inventory <inline> is invalid:\n  - secrets: declare at least one secret');
  });
});

describe('fieldPath', () => {
  it('renders zod paths the way the inventory is written', () => {
    expect(fieldPath(['secrets', 1, 'consumers', 0, 'confirm', 'url'])).toBe('secrets[1].consumers[0].confirm.url');
    expect(fieldPath(['plans', 0, 'secrets', 1])).toBe('plans[0].secrets[1]');
    expect(fieldPath(['secrets'])).toBe('secrets');
    expect(fieldPath([])).toBe('');
  });
});

describe('loadInventory', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rotor-inventory-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a missing file: the problem names the file and ROTOR_INVENTORY', async () => {
    const file = join(dir, 'does-not-exist.yaml');
    const error = await loadInventory(file).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(InventoryError);
    expect((error as InventoryError).file).toBe(file);
    expect((error as InventoryError).problems).toEqual(['cannot read the file (ENOENT); set ROTOR_INVENTORY to an inventory YAML file']);
    expect((error as InventoryError).message).toContain(`inventory ${file} is invalid`);
  });

  it('reads and validates a file, naming it in problems', async () => {
    const good = join(dir, 'good.yaml');
    await writeFile(good, stringify(rawInventory()));
    expect((await loadInventory(good)).secrets.map((s) => s.id)).toEqual(['payments-db', 'billing-approle']);

    const bad = join(dir, 'bad.yaml');
    const raw = rawInventory();
    secretAt(raw, 0)['id'] = 'UPPER';
    await writeFile(bad, stringify(raw));
    await expect(loadInventory(bad)).rejects.toThrow(
      `inventory ${bad} is invalid:\n  - secrets[0].id: use lower-case letters, digits and dashes (e.g. "payments-db"), at most 63 characters`,
    );
  });

  it('config/inventory.example.yaml parses without problems', async () => {
    // loadInventory throws an InventoryError listing every problem if the example is invalid.
    const inv = await loadInventory(EXAMPLE);
    expect(inv.secrets.length).toBeGreaterThan(0);
    const ids = new Set(inv.secrets.map((s) => s.id));
    for (const p of inv.plans) for (const sid of p.secrets) expect(ids.has(sid)).toBe(true);
  });
});

describe('parseDuration', () => {
  it.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['250ms', 250],
    ['0s', 0],
    ['1.5s', 1_500],
    ['0.5m', 30_000],
    ['  5m  ', 300_000],
    ['90s', 90_000],
  ])('%j is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('rounds fractional milliseconds', () => {
    expect(parseDuration('1.0004s')).toBe(1_000);
    expect(parseDuration('1.0006s')).toBe(1_001);
  });

  it('takes numbers as milliseconds', () => {
    expect(parseDuration(0)).toBe(0);
    expect(parseDuration(1500)).toBe(1500);
  });

  it.each(['', '5', 's', '5 m', '5M', '5min', '1w', '-5s', '+5s', '.5s', '5.s', '1e3s', '5s5m', 'ms'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])('rejects the number %d', (n) => {
    expect(parseDuration(n)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { mysqlCredential, mysqlSpec, mysqlTraits } from './schema.js';

const base = { type: 'mysql', adminPath: '_rotor/admin/demo-mysql', users: ['app_a', 'app_b'] };

/** Every issue as "path: message", as the inventory loader reports them. */
function issues(input: unknown): string[] {
  const parsed = mysqlSpec.safeParse(input);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('mysql inventory entry', () => {
  it('accepts the minimal entry and defaults the account host to %', () => {
    expect(mysqlSpec.parse(base)).toEqual({ ...base, accountHost: '%' });
  });

  it('accepts every option', () => {
    const full = {
      ...base,
      accountHost: '10.0.%',
      database: 'demo',
      grantRole: 'app_rw',
      validationQuery: 'SELECT 1 FROM orders LIMIT 1',
      tls: { mode: 'verify-full', caFile: '/etc/rotor/mysql-ca.pem' },
      requireSsl: true,
    };
    expect(mysqlSpec.parse(full)).toEqual(full);
  });

  it('names the field and the fix for each mistake', () => {
    expect(issues({ ...base, users: ['app_a', 'app_a'] })).toEqual([
      'users: the two alternating users must differ; name two accounts, e.g. [app_a, app_b]',
    ]);
    expect(issues({ ...base, users: ['app_a'] })[0]).toMatch(/^users: /);
    expect(issues({ ...base, users: ["app'a", 'app_b'] })[0]).toMatch(/^users\.0: an account name such as "app_a"/);
    expect(issues({ ...base, adminPath: '' })[0]).toMatch(/^adminPath: the KV path of the admin credential/);
    expect(issues({ ...base, database: 'de mo' })[0]).toMatch(/^database: a database name such as "demo"/);
    expect(issues({ ...base, accountHost: "%' OR 1" })[0]).toMatch(/^accountHost: a host pattern such as "%"/);
    expect(issues({ ...base, grantRole: 'a b' })[0]).toMatch(/^grantRole: an account name/);
    expect(issues({ ...base, validationQuery: '  ' })[0]).toMatch(/^validationQuery: a SQL statement/);
    expect(issues({ ...base, tls: { mode: 'prefer' } })[0]).toMatch(/^tls\.mode: one of disable, require, verify-ca, verify-full/);
    expect(issues({ ...base, tls: { mode: 'require', caFile: '/ca.pem' } })).toEqual([
      'tls.caFile: a CA file is used only by mode verify-ca or verify-full; set one of those or remove caFile',
    ]);
    expect(issues({ ...base, requireSsl: true, tls: { mode: 'disable' } })[0]).toMatch(
      /^tls\.mode: requireSsl makes the users log in over TLS only.*set tls\.mode to require or verify-\*, or remove requireSsl/,
    );
    expect(issues({ ...base, requireSsl: 'yes' })[0]).toMatch(/^requireSsl: true or false/);
    expect(issues({ ...base, ssl: { mode: 'require' } })[0]).toMatch(/ssl/); // strict: postgres's field name is refused
  });
});

describe('mysql credential', () => {
  it('keeps extra string fields and makes database optional', () => {
    const cred = { username: 'app_a', password: 'p', host: 'db', port: '3306', note: 'x' };
    expect(mysqlCredential.parse(cred)).toEqual(cred);
    expect(mysqlCredential.safeParse({ ...cred, port: 3306 }).success).toBe(false);
  });
});

describe('mysql traits', () => {
  it('lists sessions by user, supports break-glass and reads only the admin credential', () => {
    expect(mysqlTraits.sessions).toMatchObject({ where: 'information_schema.PROCESSLIST', clientName: false });
    expect(mysqlTraits.breakGlass).toBe(true);
    const rules = mysqlTraits.secretRules(mysqlSpec.parse(base), { kvMount: 'rotor', secretId: 'db', safe: (_f, v) => v });
    expect(rules).toEqual([{ path: 'rotor/data/_rotor/admin/demo-mysql', capabilities: ['read'], why: 'db: admin credential' }]);
  });
});

import { describe, expect, it } from 'vitest';
import { CredentialRejectedError } from '../provider.js';
import { account, copyGrantStatements, missingGrants, parseGrantLine, readGrants, standbyShortfall } from './grants.js';
import { nativePasswordHash } from './target-connection.js';

describe('nativePasswordHash', () => {
  it("is MySQL's PASSWORD(): * and upper-case hex SHA1(SHA1(password))", () => {
    // Known values of MySQL/MariaDB's PASSWORD() function.
    expect(nativePasswordHash('password')).toBe('*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19');
    expect(nativePasswordHash('hello-secret-123')).toBe('*59DCC7A6CC1954F4C280B81548290F372F31A838'); // checked on MariaDB 10.11
    expect(nativePasswordHash('pässwörd')).toMatch(/^\*[0-9A-F]{40}$/);
    expect(nativePasswordHash('a')).not.toContain('a'.repeat(2));
  });
});

/** SHOW GRANTS FOR 'app_a'@'%' as MariaDB 10.11 prints it. */
const ACTIVE = [
  'GRANT `reader` TO `app_a`@`%`',
  "GRANT USAGE ON *.* TO `app_a`@`%` IDENTIFIED BY PASSWORD '*59DCC7A6CC1954F4C280B81548290F372F31A838' REQUIRE SSL",
  'GRANT SELECT, INSERT ON `demo`.* TO `app_a`@`%`',
  'GRANT SELECT (`id`, `item`), UPDATE ON `demo`.`orders` TO `app_a`@`%` WITH GRANT OPTION',
  'SET DEFAULT ROLE `reader` FOR `app_a`@`%`',
];

describe('SHOW GRANTS', () => {
  it('parses privileges with columns, roles and default roles', () => {
    expect(parseGrantLine(ACTIVE[3]!)).toEqual({
      kind: 'privileges',
      privileges: [
        { name: 'SELECT', columns: ['`id`', '`item`'] },
        { name: 'UPDATE', columns: [] },
      ],
      object: '`demo`.`orders`',
      grantOption: true,
    });
    expect(parseGrantLine(ACTIVE[0]!)).toEqual({ kind: 'role', roles: ['reader'], adminOption: false });
    expect(parseGrantLine(ACTIVE[4]!)).toEqual({ kind: 'default-role', roles: ['reader'] });
    expect(parseGrantLine('REVOKE nonsense')).toBeUndefined();
  });

  it('copies privileges and roles to another account, never the password, TLS or limits', () => {
    const statements = copyGrantStatements(ACTIVE, account('app_b', '%'));
    expect(statements).toEqual([
      "GRANT `reader` TO 'app_b'@'%'",
      "GRANT SELECT, INSERT ON `demo`.* TO 'app_b'@'%'",
      "GRANT SELECT (`id`, `item`), UPDATE ON `demo`.`orders` TO 'app_b'@'%' WITH GRANT OPTION",
      "SET DEFAULT ROLE `reader` FOR 'app_b'@'%'",
    ]);
    expect(statements.join('\n')).not.toMatch(/IDENTIFIED|59DCC7|REQUIRE/);
  });

  it('a standby with the same or broader privileges lacks nothing; a missing one is named', () => {
    const active = readGrants(ACTIVE);
    expect(missingGrants(active, active)).toEqual([]);
    const broader = readGrants(['GRANT `reader` TO `app_b`@`%`', 'GRANT ALL PRIVILEGES ON `demo`.* TO `app_b`@`%` WITH GRANT OPTION']);
    expect(missingGrants(active, broader)).toEqual([]);
    const columnsOnly = readGrants(['GRANT `reader` TO `app_b`@`%`', 'GRANT SELECT (`id`) ON `demo`.`orders` TO `app_b`@`%`']);
    expect(missingGrants(readGrants(['GRANT SELECT ON `demo`.`orders` TO `app_a`@`%`']), columnsOnly)).toEqual([
      'SELECT ON `demo`.`orders`',
    ]);
    const narrower = readGrants(['GRANT SELECT ON `demo`.* TO `app_b`@`%`']);
    expect(missingGrants(active, narrower)).toEqual([
      'INSERT ON `demo`.*', // SELECT on the database covers the column SELECTs
      'UPDATE ON `demo`.`orders`',
      'GRANT OPTION ON `demo`.`orders`',
      'membership in role `reader`',
    ]);
  });

  it('a line it cannot read fails the comparison and the copy, naming its kind and never the hash', () => {
    const partialRevoke = [
      'GRANT SELECT, INSERT ON *.* TO `app_a`@`%`',
      'REVOKE INSERT ON `mysql`.* FROM `app_a`@`%`', // MySQL 8, partial_revokes=ON
    ];
    expect(() => readGrants(partialRevoke, "'app_a'@'%'")).toThrow(CredentialRejectedError);
    expect(() => readGrants(partialRevoke, "'app_a'@'%'")).toThrow(
      /SHOW GRANTS FOR 'app_a'@'%' has a line rotor cannot read \("REVOKE INSERT ON …"\)/,
    );
    expect(() => copyGrantStatements(partialRevoke, account('app_b', '%'))).toThrow(CredentialRejectedError);
    const hashed = "GRANT USAGE ON *.* TO `app_a`@`%` IDENTIFIED BY PASSWORD '*59DCC7A6CC1954F4C280B81548290F372F31A838' 'garbage";
    const odd = ["SOMETHING NEW '*59DCC7A6CC1954F4C280B81548290F372F31A838' TO `app_a`@`%`", hashed.replace('GRANT USAGE', 'GRANT us@ge')];
    for (const line of odd) {
      const err = (() => {
        try {
          readGrants([line]);
        } catch (e) {
          return e as Error;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(CredentialRejectedError);
      expect(err!.message).not.toMatch(/59DCC7|app_a/);
    }
  });
});

/** SHOW GRANTS FOR 'app_a'@'%' as MySQL 8.0 prints it: every role on one line, dynamic privileges, no default roles. */
const MYSQL8 = [
  'GRANT USAGE ON *.* TO `app_a`@`%`',
  'GRANT BACKUP_ADMIN,XA_RECOVER_ADMIN ON *.* TO `app_a`@`%`',
  'GRANT SELECT, INSERT ON `demo`.`orders` TO `app_a`@`%`',
  'GRANT `reader`@`%`,`writer`@`%` TO `app_a`@`%`',
  'GRANT `auditor`@`%` TO `app_a`@`%` WITH ADMIN OPTION',
];

describe('SHOW GRANTS of MySQL 8', () => {
  it('reads every role of a one-line role list and dynamic privileges', () => {
    expect(parseGrantLine(MYSQL8[3]!)).toEqual({ kind: 'role', roles: ['reader', 'writer'], adminOption: false });
    const read = readGrants(MYSQL8);
    expect(read.roles).toEqual(['reader', 'writer', 'auditor']);
    expect(read.privileges).toContainEqual({ name: 'XA_RECOVER_ADMIN', object: '*.*' });
    // A standby in only the first role lacks the second.
    expect(missingGrants(read, readGrants(['GRANT `reader`@`%` TO `app_b`@`%`', ...MYSQL8.slice(1, 3)]))).toEqual([
      'membership in role `writer`',
      'membership in role `auditor`',
    ]);
  });

  it('copies every role and the default roles from mysql.default_roles, with MySQL syntax', () => {
    expect(copyGrantStatements(MYSQL8, account('app_b', '%'), { mysql: true, defaultRoles: ['reader', 'writer'] })).toEqual([
      "GRANT BACKUP_ADMIN, XA_RECOVER_ADMIN ON *.* TO 'app_b'@'%'",
      "GRANT SELECT, INSERT ON `demo`.`orders` TO 'app_b'@'%'",
      "GRANT `reader` TO 'app_b'@'%'",
      "GRANT `writer` TO 'app_b'@'%'",
      "GRANT `auditor` TO 'app_b'@'%' WITH ADMIN OPTION",
      "SET DEFAULT ROLE `reader`, `writer` TO 'app_b'@'%'",
    ]);
  });
});

describe('standbyShortfall (what keeps apply from unlocking a standby)', () => {
  const role = 'demo_inventory';
  const rolePrivileges = readGrants(['GRANT SELECT, INSERT ON `demo`.* TO `demo_inventory`']).privileges;
  /** The active user: the role as its default role. */
  const active = { privileges: rolePrivileges, roles: [role], defaultRoles: [role] };

  it('a member of grantRole without it as default role is not done: both the role and the privileges are named', () => {
    const memberOnly = { privileges: [], roles: [role], defaultRoles: [] };
    expect(standbyShortfall(memberOnly, active, role)).toEqual([
      'role `demo_inventory` as its default role',
      'SELECT ON `demo`.*',
      'INSERT ON `demo`.*',
    ]);
    expect(standbyShortfall(memberOnly, undefined, role)).toEqual(['role `demo_inventory` as its default role']);
    expect(standbyShortfall({ privileges: [], roles: [], defaultRoles: [] }, undefined, role)).toEqual([
      'membership in role `demo_inventory`',
      'role `demo_inventory` as its default role',
    ]);
  });

  it('a copy cut short (membership, no default role) lacks the privileges; a finished one lacks nothing', () => {
    expect(standbyShortfall({ privileges: [], roles: [role], defaultRoles: [] }, active)).toEqual([
      'SELECT ON `demo`.*',
      'INSERT ON `demo`.*',
    ]);
    expect(standbyShortfall(active, active)).toEqual([]);
    expect(standbyShortfall(active, active, role)).toEqual([]);
    // Seeding the first user without grantRole: nothing to compare with.
    expect(standbyShortfall({ privileges: [], roles: [], defaultRoles: [] }, undefined)).toEqual([]);
  });
});

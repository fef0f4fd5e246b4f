import { describe, expect, it } from 'vitest';
import { account, copyGrantStatements, missingGrants, parseGrantLine, readGrants } from './grants.js';
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
    expect(parseGrantLine(ACTIVE[0]!)).toEqual({ kind: 'role', role: 'reader', adminOption: false });
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
});

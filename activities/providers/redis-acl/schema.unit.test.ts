import { describe, expect, it } from 'vitest';
import { InventoryError, parseInventory } from '../../../config/load-inventory.js';
import { redisSpec, redisTraits } from './schema.js';

const issues = (input: unknown): string[] => {
  const parsed = redisSpec.safeParse(input);
  expect(parsed.success).toBe(false);
  return parsed.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};
const base = { type: 'redis-acl', adminPath: '_rotor/admin/demo-redis' };

describe('the redis-acl inventory entry', () => {
  it('takes one user or a pair of alternating users', () => {
    expect(redisSpec.parse({ ...base, user: 'cache-app' })).toEqual({ ...base, user: 'cache-app' });
    expect(redisSpec.parse({ ...base, users: ['sess-a', 'sess-b'], createRules: ' ~sess:* +@read +@write ' })).toEqual({
      ...base,
      users: ['sess-a', 'sess-b'],
      createRules: '~sess:* +@read +@write',
    });
  });

  it('asks for exactly one of user and users, naming both', () => {
    expect(issues(base)).toEqual([expect.stringMatching(/^user: give exactly one of user .* or users: \[a, b\]/)]);
    expect(issues({ ...base, user: 'x1', users: ['a1', 'b1'] })).toEqual([expect.stringMatching(/^users: give exactly one of user/)]);
  });

  it('names the field of a bad user, pair, admin path or rule', () => {
    expect(issues({ ...base, user: 'has space' })).toEqual([expect.stringMatching(/^user: a Redis ACL user name/)]);
    expect(issues({ ...base, user: 'default' })).toEqual([expect.stringMatching(/^user: the "default" user serves unauthenticated/)]);
    expect(issues({ ...base, users: ['same', 'same'] })).toEqual(['users: the two alternating users must differ']);
    expect(issues({ type: 'redis-acl', adminPath: '', user: 'app' })).toEqual([
      expect.stringMatching(/^adminPath: the KV path of the admin credential/),
    ]);
    for (const rules of ['~app:* >secret', 'on ~app:*', '~a (~b +get)', 'nopass', 'reset +@all'])
      expect(issues({ ...base, user: 'app', createRules: rules })).toEqual([
        expect.stringMatching(/^createRules: only key \(~ %\), channel/),
      ]);
    expect(issues({ ...base, user: 'app', tls: true })).toEqual([expect.stringMatching(/^: Unrecognized key.*tls/)]);
  });

  it('observes sessions only with alternating users, and says which shape to use', () => {
    expect(redisTraits.sessions?.unavailable?.(redisSpec.parse({ ...base, users: ['a1', 'b1'] }))).toBeUndefined();
    expect(redisTraits.sessions?.unavailable?.(redisSpec.parse({ ...base, user: 'cache-app' }))).toMatch(
      /use provider\.users \[a, b\] for confirm mode sessions/,
    );
  });

  it('the inventory refuses confirm mode sessions for one user with two passwords, naming the field and the fix', () => {
    const yaml = (provider: string) => `secrets:
  - id: sessions-cache
    path: apps/sessions-cache
    owner: team-web
    provider: ${provider}
    consumers:
      - name: web
        confirm: { mode: sessions, clientName: web }
`;
    expect(() => parseInventory(yaml('{ type: redis-acl, adminPath: _rotor/admin/demo-redis, users: [sess-a, sess-b] }'))).not.toThrow();
    let error: unknown;
    try {
      parseInventory(yaml('{ type: redis-acl, adminPath: _rotor/admin/demo-redis, user: sess }'));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InventoryError);
    expect((error as Error).message).toMatch(/consumers.*confirm.*mode[\s\S]*use provider\.users \[a, b\] for confirm mode sessions/);
  });
});

import { describe, expect, it } from 'vitest';
import {
  clientsOf,
  copyRules,
  isDisabled,
  isLive,
  OlderRedisError,
  parseAclUser,
  parseClientList,
  passwordHash,
  ruleDifferences,
} from './acl.js';

// Captured from Redis 7.0 (CLIENT LIST as the admin user, a consumer named "web", an unnamed one).
const CLIENT_LIST = [
  'id=7 addr=127.0.0.1:60280 laddr=127.0.0.1:6399 fd=7 name= age=0 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=26 qbuf-free=20448 argv-mem=10 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem=0 tot-mem=37658 events=r cmd=client|list user=rotor-admin redir=-1 resp=3',
  'id=9 addr=127.0.0.1:44588 laddr=127.0.0.1:6399 fd=8 name=web age=3 idle=3 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1800 events=r cmd=get user=sess-a redir=-1 resp=2',
  'id=12 addr=127.0.0.1:44590 laddr=127.0.0.1:6399 fd=9 name= age=1 idle=1 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1800 events=r cmd=ping user=sess-a redir=-1 resp=3',
  '',
].join('\n');

describe('CLIENT LIST', () => {
  it('parses every client with its fields, empty names included', () => {
    const entries = parseClientList(CLIENT_LIST);
    expect(entries).toHaveLength(3);
    expect(entries[1]).toMatchObject({ id: '9', name: 'web', user: 'sess-a', cmd: 'get', addr: '127.0.0.1:44588' });
    expect(entries[0]).toMatchObject({ id: '7', name: '', user: 'rotor-admin', cmd: 'client|list' });
    expect(parseClientList('')).toEqual([]);
    expect(parseClientList('id=1 user=a\r\nid=2 user=b\r\n').map((e) => e.user)).toEqual(['a', 'b']);
  });

  it('counts the clients of one user, by name when asked, never the admin connection', () => {
    const entries = parseClientList(CLIENT_LIST);
    expect(clientsOf(entries, 'sess-a')).toHaveLength(2);
    expect(clientsOf(entries, 'sess-a', { clientName: 'web' }).map((e) => e.id)).toEqual(['9']);
    expect(clientsOf(entries, 'sess-a', { clientName: 'billing' })).toHaveLength(0);
    expect(clientsOf(entries, 'sess-b')).toHaveLength(0);
    expect(clientsOf(entries, 'rotor-admin', { exceptId: '7' })).toHaveLength(0);
  });
});

describe('ACL GETUSER', () => {
  const resp3 = {
    flags: ['on'],
    passwords: [passwordHash('pw-one')],
    commands: '-@all +@read +ping',
    keys: '~app:* %R~x:*',
    channels: '',
    selectors: [{ commands: '-@all +get', keys: '~y:*', channels: '' }],
  };
  const resp2 = [
    'flags',
    ['on'],
    'passwords',
    [passwordHash('pw-one')],
    'commands',
    '-@all +@read +ping',
    'keys',
    '~app:* %R~x:*',
    'channels',
    '',
    'selectors',
    [['commands', '-@all +get', 'keys', '~y:*', 'channels', '']],
  ];

  it('reads both protocols alike, and a missing user as undefined', () => {
    expect(parseAclUser(resp3)).toEqual(resp3);
    expect(parseAclUser(resp2)).toEqual(resp3);
    expect(parseAclUser(null)).toBeUndefined();
  });

  it('refuses a Redis 6 reply (bare key patterns, allkeys-style flags, no selectors) rather than copy a broken rule from it', () => {
    // Redis 6.2's ACL GETUSER of `ACL SETUSER u on >pw allkeys allchannels +@read`.
    const redis6 = [
      'flags',
      ['on', 'allkeys', 'allchannels'],
      'passwords',
      [passwordHash('pw')],
      'commands',
      '-@all +@read',
      'keys',
      ['*'],
      'channels',
      ['*'],
    ];
    expect(() => parseAclUser(redis6)).toThrow(OlderRedisError);
    expect(() => parseAclUser({ flags: ['on'], passwords: [], commands: '+@all', keys: ['app:*'] })).toThrow(/needs Redis 7 or newer/);
  });

  it('copies rules after resetting them (a retried copy piles nothing up), never passwords or on/off', () => {
    const rules = copyRules(parseAclUser(resp3)!);
    expect(rules).toEqual([
      'resetkeys',
      'resetchannels',
      'nocommands',
      'clearselectors',
      '-@all',
      '+@read',
      '+ping',
      '~app:*',
      '%R~x:*',
      '(-@all +get ~y:*)',
    ]);
    expect(rules.some((r) => /^[#!<>]|^(on|off|nopass|reset|resetpass)$/.test(r))).toBe(false);
  });

  it('tells a live user from a disabled or passwordless one, and names differing rules', () => {
    const user = parseAclUser(resp3)!;
    expect(isLive(user)).toBe(true);
    expect(isLive({ ...user, flags: ['off'] })).toBe(false);
    expect(isLive({ ...user, passwords: [] })).toBe(false);
    expect(isDisabled(user)).toBe(false);
    expect(isDisabled({ ...user, flags: ['off', 'nopass'] })).toBe(true);
    expect(ruleDifferences(user, { ...user, passwords: [] })).toEqual([]);
    expect(ruleDifferences(user, { ...user, keys: '~app:*' })).toEqual(['keys "~app:* %R~x:*" vs "~app:*"']);
    expect(ruleDifferences(user, { ...user, selectors: [] })).toEqual(['selectors differ']);
  });

  it('hashes a password as Redis does (SHA-256, hex)', () => {
    expect(passwordHash('foobar')).toBe('c3ab8ff13720e8ad9047dd39466b3c8974e592c2fa383d4a3960714caef0c4f2');
  });
});

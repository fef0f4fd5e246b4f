import { createHash } from 'node:crypto';

/*
 * Pure helpers over Redis ACL and CLIENT LIST replies (no client library, no I/O), unit-tested
 * without a server.
 */

/** The SHA-256 Redis stores for a password: rotor sends `#<hash>`/`!<hash>`, never the password, in ACL SETUSER. */
export const passwordHash = (password: string): string => createHash('sha256').update(password).digest('hex');

/** One selector of an ACL user (Redis 7): its own command, key and channel rules. */
export interface AclSelector {
  commands: string;
  keys: string;
  channels: string;
}

/** `ACL GETUSER` of one user, whatever the protocol (RESP3 map or RESP2 flat array). */
export interface AclUser extends AclSelector {
  flags: string[];
  /** SHA-256 hashes, as Redis stores them. */
  passwords: string[];
  selectors: AclSelector[];
}

/** A RESP3 map (object or Map) or a RESP2 flat [key, value, …] array as a plain object. */
function asRecord(reply: unknown): Record<string, unknown> {
  if (reply instanceof Map) return Object.fromEntries([...reply.entries()].map(([k, v]) => [String(k), v as unknown]));
  if (Array.isArray(reply)) {
    const out: Record<string, unknown> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = reply[i + 1];
    return out;
  }
  if (reply && typeof reply === 'object') return reply as Record<string, unknown>;
  throw new Error(`unexpected ACL GETUSER reply of type ${typeof reply}`);
}

const asStrings = (value: unknown): string[] =>
  value instanceof Set ? [...value].map(String) : Array.isArray(value) ? value.map(String) : [];
/**
 * Redis 7 answers commands, keys and channels as one rule string each (`~app:* %R~x:*`, `&*`),
 * which ACL SETUSER takes back word for word. (Redis 6 answered keys and channels as arrays of bare
 * patterns, with `allkeys`/`allchannels`/`allcommands` among the flags: parseAclUser refuses that
 * reply rather than read it.)
 */
const asRuleText = (value: unknown): string => (value == null ? '' : String(value));

function asSelector(reply: unknown): AclSelector {
  const r = asRecord(reply);
  return { commands: asRuleText(r.commands), keys: asRuleText(r.keys), channels: asRuleText(r.channels) };
}

/**
 * A reply of `ACL GETUSER` without a `selectors` field: Redis 6 (or older), whose rules rotor cannot
 * copy (bare key patterns, `allkeys`-style flags, no selectors, no `clearselectors`).
 */
export class OlderRedisError extends Error {
  constructor() {
    super(
      'ACL GETUSER answered without "selectors", as Redis 6 and older do; the redis-acl provider needs Redis 7 or newer ' +
        '(it reads and copies ACL rules in the form Redis 7 gives them)',
    );
    this.name = 'OlderRedisError';
  }
}

/**
 * The reply of `ACL GETUSER`, or undefined when the user does not exist (a null reply). Throws
 * OlderRedisError for a Redis 6 reply (Redis 7 always answers `selectors`, empty when there are none).
 */
export function parseAclUser(reply: unknown): AclUser | undefined {
  if (reply === null || reply === undefined) return undefined;
  const r = asRecord(reply);
  if (!('selectors' in r)) throw new OlderRedisError();
  return {
    flags: asStrings(r.flags),
    passwords: asStrings(r.passwords),
    ...asSelector(r),
    selectors: Array.isArray(r.selectors) ? r.selectors.map(asSelector) : [],
  };
}

/** Enabled and holding at least one password: someone can log in as this user now. */
export const isLive = (user: AclUser): boolean => user.flags.includes('on') && user.passwords.length > 0;

/** Disabled (`off`): nobody logs in as this user, whatever passwords it holds, until someone enables it. */
export const isDisabled = (user: AclUser): boolean => !user.flags.includes('on');

const words = (rules: string): string[] => rules.split(/\s+/).filter(Boolean);

/**
 * ACL SETUSER modifiers that give a user exactly `source`'s permissions (commands, keys, channels,
 * selectors, payload sanitizing), leaving its passwords and on/off state alone. `source` is a
 * Redis 7 reply (parseAclUser refuses Redis 6's), whose rule strings SETUSER takes as they are. The
 * reset modifiers come first: SETUSER appends selectors and keys, so a retried copy would pile them up.
 */
export function copyRules(source: AclUser): string[] {
  return [
    'resetkeys',
    'resetchannels',
    'nocommands',
    'clearselectors',
    ...source.flags.filter((f) => f === 'skip-sanitize-payload' || f === 'sanitize-payload'),
    ...words(source.commands),
    ...words(source.keys),
    ...words(source.channels),
    ...source.selectors.map((s) => `(${[s.commands, s.keys, s.channels].filter(Boolean).join(' ')})`),
  ];
}

/** What `a` may do and `b` may not, or the other way round, in words (empty when the rules are the same). */
export function ruleDifferences(a: AclUser, b: AclUser): string[] {
  const out: string[] = [];
  for (const field of ['commands', 'keys', 'channels'] as const)
    if (a[field] !== b[field]) out.push(`${field} "${a[field]}" vs "${b[field]}"`);
  if (JSON.stringify(a.selectors) !== JSON.stringify(b.selectors)) out.push('selectors differ');
  return out;
}

/** One client of `CLIENT LIST`: its fields (`id`, `user`, `name`, `addr`, `cmd`, …). */
export type ClientEntry = Record<string, string>;

/**
 * `CLIENT LIST`'s text: one client a line, space-separated `field=value` (values hold no spaces:
 * Redis refuses a client name with one).
 */
export function parseClientList(text: string): ClientEntry[] {
  return text
    .split(/\r?\n/)
    .filter((line) => line.trim())
    .map((line) => {
      const entry: ClientEntry = {};
      for (const pair of line.trim().split(' ')) {
        const eq = pair.indexOf('=');
        if (eq > 0) entry[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      return entry;
    });
}

/** Clients authenticated as `user` (named `clientName`, when given), other than the client `exceptId` (the admin's own). */
export function clientsOf(entries: ClientEntry[], user: string, filter: { clientName?: string; exceptId?: string } = {}): ClientEntry[] {
  return entries.filter(
    (e) => e.user === user && e.id !== filter.exceptId && (filter.clientName === undefined || e.name === filter.clientName),
  );
}

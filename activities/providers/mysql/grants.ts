/*
 * SHOW GRANTS, read and rewritten: what rotor copies to a standby user it creates, and what the
 * pre-check compares between the active and the standby user. Pure (unit-tested without a server).
 *
 * Read as MariaDB and MySQL 8 print them. MySQL 8 lists several roles on one line and leaves
 * default roles out (the provider reads them from `mysql.default_roles`); a line rotor cannot read
 * (MySQL's partial-revoke `REVOKE … ON …`, a syntax of a newer server) fails the pre-check and the
 * copy rather than being skipped. The grant copy is proved at a real MariaDB (the integration
 * tests); the MySQL 8 forms are proved on their printed text only (the unit tests).
 */

import { CredentialRejectedError } from '../provider.js';

/** `'name'@'host'`, as a statement's account; names are validated by the schema, quotes escaped anyway. */
export function account(name: string, host: string): string {
  return `${literal(name)}@${literal(host)}`;
}

/** A string literal for a statement (names only: never a password). */
export function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A backtick-quoted identifier (a role, a database). */
export function identifier(value: string): string {
  return `\`${value.replace(/`/g, '``')}\``;
}

/** One line of SHOW GRANTS, parsed. */
export type GrantLine =
  | { kind: 'privileges'; privileges: { name: string; columns: string[] }[]; object: string; grantOption: boolean }
  | { kind: 'role'; roles: string[]; adminOption: boolean }
  | { kind: 'default-role'; roles: string[] };

/** A grantee as SHOW GRANTS prints it: `user`@`host`, `role`, or with single quotes (older servers). */
const GRANTEE = /(`(?:[^`]|``)*`(?:@`(?:[^`]|``)*`)?|'(?:[^'\\]|\\.)*'(?:@'(?:[^'\\]|\\.)*')?)/.source;
const GRANT_LINE = new RegExp(`^GRANT (.+) TO ${GRANTEE}(.*)$`, 's');
const DEFAULT_ROLE_LINE = new RegExp(`^SET DEFAULT ROLE (.+) FOR ${GRANTEE}$`, 's');

/** Splits at `sep` outside backticks, quotes and parentheses. */
function splitTopLevel(text: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === '`' || ch === "'") quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0 && text.startsWith(sep, i)) {
      parts.push(text.slice(start, i));
      start = i + sep.length;
      i += sep.length - 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

/** A role name without its quotes (`r1` or `r1`@`%` on MySQL); undefined when it is no quoted name. */
function roleName(quoted: string): string | undefined {
  const text = quoted.trim();
  const backticked = /^`((?:[^`]|``)*)`(?:@`(?:[^`]|``)*`)?$/s.exec(text);
  if (backticked) return backticked[1]!.replace(/``/g, '`');
  const quotedName = /^'((?:[^'\\]|\\.)*)'(?:@'(?:[^'\\]|\\.)*')?$/s.exec(text);
  return quotedName ? quotedName[1]!.replace(/\\(.)/gs, '$1') : undefined;
}

/** Role names of a comma-separated list (MySQL 8 prints every role of a user on one line); undefined if one is unreadable. */
function roleNames(list: string): string[] | undefined {
  const names = splitTopLevel(list, ',').map(roleName);
  return names.every((n): n is string => n !== undefined && n !== '') ? names : undefined;
}

/**
 * What kind of line rotor could not read, for an error message: its leading keywords only
 * ("REVOKE INSERT ON"), never a quoted value (a password hash, a name).
 */
export function grantLineKind(line: string): string {
  const kind = (/^[A-Z][A-Z_, ]*/.exec(line.trim())?.[0] ?? '').trim().replace(/\*[0-9A-F]{40}/g, '[hash]');
  return kind ? (kind.length > 60 ? `${kind.slice(0, 60)}…` : kind) : 'a line of unknown form';
}

/** The error for a SHOW GRANTS line rotor cannot read: never copied blindly, never skipped. */
export function unreadableGrant(line: string, grantee?: string): CredentialRejectedError {
  return new CredentialRejectedError(
    `SHOW GRANTS${grantee ? ` FOR ${grantee}` : ''} has a line rotor cannot read ("${grantLineKind(line)} …"); ` +
      'rotor compares and copies only grants it can read, so it cannot tell what that account can do: replace that grant ' +
      '(a partial revoke: grant the databases it may use instead of a global privilege minus some)',
  );
}

/** One SHOW GRANTS line, or undefined for a line rotor does not understand (reported, never copied blindly). */
export function parseGrantLine(line: string): GrantLine | undefined {
  const defaults = DEFAULT_ROLE_LINE.exec(line);
  if (defaults) {
    const roles = defaults[1]!.trim();
    if (roles === 'NONE') return { kind: 'default-role', roles: [] };
    const names = roleNames(roles);
    return names ? { kind: 'default-role', roles: names } : undefined;
  }
  const grant = GRANT_LINE.exec(line);
  if (!grant) return undefined;
  const head = grant[1]!;
  const tail = grant[3] ?? '';
  const onAt = splitTopLevel(head, ' ON ');
  if (onAt.length === 1) {
    const roles = roleNames(head);
    return roles ? { kind: 'role', roles, adminOption: /\bWITH ADMIN OPTION\b/.test(tail) } : undefined;
  }
  if (onAt.length !== 2) return undefined;
  const privileges: { name: string; columns: string[] }[] = [];
  for (const item of splitTopLevel(onAt[0]!, ',')) {
    // Static privileges (SELECT, DELETE HISTORY) and MySQL 8's dynamic ones (BACKUP_ADMIN).
    const m = /^([A-Z][A-Z_ ]*?)\s*(?:\((.*)\))?$/s.exec(item);
    if (!m) return undefined;
    const name = m[1]!.trim();
    privileges.push({ name: name === 'ALL' ? 'ALL PRIVILEGES' : name, columns: m[2] ? splitTopLevel(m[2], ',') : [] });
  }
  return { kind: 'privileges', privileges, object: onAt[1]!.trim(), grantOption: /\bWITH GRANT OPTION\b/.test(tail) };
}

/**
 * The statements that give `to` (an `account()`) the grants in `lines` (SHOW GRANTS of another
 * user): privileges, GRANT OPTION and role memberships, never the password, TLS or resource limits
 * of the source user. Its default roles are set too (those in `lines`, MariaDB, and
 * `options.defaultRoles`, MySQL 8's `mysql.default_roles`), so the copy's privileges are effective
 * at login: `SET DEFAULT ROLE … FOR` (MariaDB) or `… TO` (MySQL, `options.mysql`). A line rotor
 * cannot read throws (CredentialRejectedError, see unreadableGrant).
 */
export function copyGrantStatements(lines: string[], to: string, options: { mysql?: boolean; defaultRoles?: string[] } = {}): string[] {
  const out: string[] = [];
  const defaults: string[] = [...(options.defaultRoles ?? [])];
  for (const line of lines) {
    const parsed = parseGrantLine(line);
    if (!parsed) throw unreadableGrant(line);
    if (parsed.kind === 'role')
      for (const role of parsed.roles) out.push(`GRANT ${identifier(role)} TO ${to}${parsed.adminOption ? ' WITH ADMIN OPTION' : ''}`);
    else if (parsed.kind === 'default-role') defaults.push(...parsed.roles);
    else {
      const privileges = parsed.privileges.filter((p) => p.name !== 'USAGE');
      if (privileges.length === 0 && !parsed.grantOption) continue; // USAGE: the account itself
      const list = privileges.map((p) => (p.columns.length ? `${p.name} (${p.columns.join(', ')})` : p.name)).join(', ');
      out.push(`GRANT ${list || 'USAGE'} ON ${parsed.object} TO ${to}${parsed.grantOption ? ' WITH GRANT OPTION' : ''}`);
    }
  }
  // Default roles after the memberships they need.
  const roles = [...new Set(defaults)];
  if (roles.length) out.push(`SET DEFAULT ROLE ${roles.map(identifier).join(', ')} ${options.mysql ? 'TO' : 'FOR'} ${to}`);
  return out;
}

/** One privilege on one object (or column): the unit the pre-check compares. */
export interface Privilege {
  name: string;
  object: string;
  column?: string;
}

/** What a user can do: privileges (direct and through its default roles) and the roles it may SET. */
export interface Grants {
  privileges: Privilege[];
  roles: string[];
}

/**
 * The privileges and role memberships in SHOW GRANTS lines of `grantee` (a role's own roles are the
 * caller's to expand). A line it cannot read throws (CredentialRejectedError): skipping it could
 * hide a privilege (the pre-check would pass a standby that lacks it) or a partial revoke.
 */
export function readGrants(lines: string[], grantee?: string): { privileges: Privilege[]; roles: string[]; defaultRoles: string[] } {
  const privileges: Privilege[] = [];
  const roles: string[] = [];
  const defaultRoles: string[] = [];
  for (const line of lines) {
    const parsed = parseGrantLine(line);
    if (!parsed) throw unreadableGrant(line, grantee);
    if (parsed.kind === 'role') roles.push(...parsed.roles);
    else if (parsed.kind === 'default-role') defaultRoles.push(...parsed.roles);
    else {
      for (const p of parsed.privileges) {
        if (p.name === 'USAGE') continue;
        if (p.columns.length) for (const column of p.columns) privileges.push({ name: p.name, object: parsed.object, column });
        else privileges.push({ name: p.name, object: parsed.object });
      }
      if (parsed.grantOption) privileges.push({ name: 'GRANT OPTION', object: parsed.object });
    }
  }
  return { privileges, roles, defaultRoles };
}

/** `obj` and every scope that includes it: a table's database and the global scope. */
export function scopesOf(object: string): string[] {
  if (object === '*.*') return ['*.*'];
  const m = /^(?:(?:PROCEDURE|FUNCTION|PACKAGE(?: BODY)?) )?(`(?:[^`]|``)*`|\*)\.(.+)$/.exec(object);
  if (!m) return [object, '*.*'];
  const db = `${m[1]}.*`;
  return object === db ? [db, '*.*'] : [object, db, '*.*'];
}

function covers(have: Privilege[], want: Privilege): boolean {
  const scopes = scopesOf(want.object);
  return have.some((h) => {
    if (h.column !== undefined)
      return want.column !== undefined && h.object === want.object && h.column === want.column && h.name === want.name;
    if (!scopes.includes(h.object)) return false;
    if (h.name === want.name) return true;
    // ALL PRIVILEGES includes everything at its scope but GRANT OPTION and PROXY.
    return h.name === 'ALL PRIVILEGES' && want.name !== 'GRANT OPTION' && want.name !== 'PROXY';
  });
}

function describe(p: Privilege): string {
  return p.column ? `${p.name} (${p.column}) ON ${p.object}` : `${p.name} ON ${p.object}`;
}

/** What `active` can do and `standby` cannot, one line each (privileges, then role memberships). */
export function missingGrants(active: Grants, standby: Grants): string[] {
  const missing = active.privileges.filter((p) => !covers(standby.privileges, p)).map(describe);
  for (const role of active.roles) if (!standby.roles.includes(role)) missing.push(`membership in role ${identifier(role)}`);
  return [...new Set(missing)];
}

/** What a user can do at login, with the default roles it logs in with. */
export interface StandbyGrants extends Grants {
  defaultRoles: string[];
}

/**
 * What keeps a standby user rotor is finishing (created or unlocked by `apply`) from being
 * unlocked: what `active` (the other user, when it exists) can do and the standby cannot, and
 * `grantRole` when it is not both a role of the standby and its default role (a member without
 * the default role has none of the role's privileges at login). Empty: it may be unlocked.
 */
export function standbyShortfall(standby: StandbyGrants, active: Grants | undefined, grantRole?: string): string[] {
  const missing: string[] = [];
  if (grantRole && !standby.roles.includes(grantRole)) missing.push(`membership in role ${identifier(grantRole)}`);
  if (grantRole && !standby.defaultRoles.includes(grantRole)) missing.push(`role ${identifier(grantRole)} as its default role`);
  if (active) missing.push(...missingGrants(active, standby));
  return [...new Set(missing)];
}

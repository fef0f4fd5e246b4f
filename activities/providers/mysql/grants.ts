/*
 * SHOW GRANTS, read and rewritten: what rotor copies to a standby user it creates, and what the
 * pre-check compares between the active and the standby user. Pure (unit-tested without a server).
 */

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
  | { kind: 'role'; role: string; adminOption: boolean }
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

/** A role name without its quotes (`r1` or `r1`@`%` on MySQL). */
function roleName(quoted: string): string {
  const m = /^[`'](.*?)[`'](?:@.*)?$/s.exec(quoted.trim());
  return m ? m[1]!.replace(/``/g, '`') : quoted.trim();
}

/** One SHOW GRANTS line, or undefined for a line rotor does not understand (reported, never copied blindly). */
export function parseGrantLine(line: string): GrantLine | undefined {
  const defaults = DEFAULT_ROLE_LINE.exec(line);
  if (defaults) {
    const roles = defaults[1]!.trim();
    return { kind: 'default-role', roles: roles === 'NONE' ? [] : splitTopLevel(roles, ',').map(roleName) };
  }
  const grant = GRANT_LINE.exec(line);
  if (!grant) return undefined;
  const head = grant[1]!;
  const tail = grant[3] ?? '';
  const onAt = splitTopLevel(head, ' ON ');
  if (onAt.length === 1) return { kind: 'role', role: roleName(head), adminOption: /\bWITH ADMIN OPTION\b/.test(tail) };
  if (onAt.length !== 2) return undefined;
  const privileges = splitTopLevel(onAt[0]!, ',').map((item) => {
    const m = /^([A-Z ]+?)\s*(?:\((.*)\))?$/s.exec(item);
    const name = (m?.[1] ?? item).trim();
    const columns = m?.[2] ? splitTopLevel(m[2], ',') : [];
    return { name: name === 'ALL' ? 'ALL PRIVILEGES' : name, columns };
  });
  return { kind: 'privileges', privileges, object: onAt[1]!.trim(), grantOption: /\bWITH GRANT OPTION\b/.test(tail) };
}

/**
 * The statements that give `to` (an `account()`) the grants in `lines` (SHOW GRANTS of another
 * user): privileges, GRANT OPTION and role memberships, never the password, TLS or resource limits
 * of the source user. `SET DEFAULT ROLE` is copied too, so the copy's privileges are effective at login.
 */
export function copyGrantStatements(lines: string[], to: string): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const parsed = parseGrantLine(line);
    if (!parsed) throw new Error(`cannot read the grant "${line.split(' IDENTIFIED ')[0]}"`);
    if (parsed.kind === 'role') out.push(`GRANT ${identifier(parsed.role)} TO ${to}${parsed.adminOption ? ' WITH ADMIN OPTION' : ''}`);
    else if (parsed.kind === 'privileges') {
      const privileges = parsed.privileges.filter((p) => p.name !== 'USAGE');
      if (privileges.length === 0 && !parsed.grantOption) continue; // USAGE: the account itself
      const list = privileges.map((p) => (p.columns.length ? `${p.name} (${p.columns.join(', ')})` : p.name)).join(', ');
      out.push(`GRANT ${list || 'USAGE'} ON ${parsed.object} TO ${to}${parsed.grantOption ? ' WITH GRANT OPTION' : ''}`);
    }
  }
  // Default roles after the memberships they need.
  for (const line of lines) {
    const parsed = parseGrantLine(line);
    if (parsed?.kind === 'default-role' && parsed.roles.length)
      out.push(`SET DEFAULT ROLE ${parsed.roles.map(identifier).join(', ')} FOR ${to}`);
  }
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

/** The privileges and role memberships in SHOW GRANTS lines (a role's own roles are the caller's to expand). */
export function readGrants(lines: string[]): { privileges: Privilege[]; roles: string[]; defaultRoles: string[] } {
  const privileges: Privilege[] = [];
  const roles: string[] = [];
  const defaultRoles: string[] = [];
  for (const line of lines) {
    const parsed = parseGrantLine(line);
    if (!parsed) continue;
    if (parsed.kind === 'role') roles.push(parsed.role);
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

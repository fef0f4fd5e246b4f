/**
 * What a person's own Vault token may do for rotor (userpass on the local stack; OIDC, LDAP or JWT
 * in production): mint a rotor identity token (the proof every approval, denial, confirmation,
 * unfreeze and break-glass request carries), read KV metadata (versions, never values), the codec
 * key that decodes rotor's Temporal payloads, break-glass credentials delivered to the caller's
 * own entity, a short-lived read-only login to the audit database, and MAC verification of audit
 * rows (verify only: an operator cannot forge a row). Authority beyond reading (approving,
 * incident response) comes from identity groups, carried in the identity token.
 */
export const OPERATOR_POLICY_NAME = 'rotor-operator';
/** The identity token role whose tokens the worker accepts (its client_id is the audience). */
export const IDENTITY_ROLE = 'rotor';
export const IDENTITY_KEY = 'rotor';
export const CODEC_KEY_PATH = '_rotor/codec';
export const GRANTS_PREFIX = '_rotor/grants';
export const AUDIT_ANCHOR_PATH = '_rotor/audit/anchor';
export const AUDIT_TRANSIT_KEY = 'rotor-audit';
export const AUDITOR_DB_ROLE = 'rotor-auditor';

export function operatorPolicy(kvMount: string): string {
  return `
path "identity/oidc/token/${IDENTITY_ROLE}" { capabilities = ["read"] }
path "${kvMount}/metadata/*" { capabilities = ["read", "list"] }
path "${kvMount}/data/${CODEC_KEY_PATH}" { capabilities = ["read"] }
path "${kvMount}/data/${AUDIT_ANCHOR_PATH}" { capabilities = ["read"] }
path "${kvMount}/data/${GRANTS_PREFIX}/{{identity.entity.id}}/*" { capabilities = ["read"] }
path "database/creds/${AUDITOR_DB_ROLE}" { capabilities = ["read"] }
path "transit/verify/${AUDIT_TRANSIT_KEY}" { capabilities = ["update"] }
`;
}

/**
 * A credential as stored in Vault KV v2: string fields only. Providers read and write these;
 * nothing outside activities/ ever sees one.
 */
export type Credential = Readonly<Record<string, string>>;

/** Creates, tests and revokes credentials at one kind of target. Adding a provider = one file + its tests. */
export interface Provider {
  /** Who the credential authenticates as: two credentials of one principal cannot be revoked apart. */
  principal(credential: Credential): string;
  /** The credential to stage next, given the current one (undefined when seeding a new secret). */
  generate(current: Credential | undefined): Promise<Credential>;
  /** Makes the target accept `credential`. Idempotent: a retried step applies the same credential. */
  apply(credential: Credential): Promise<void>;
  /** Resolves when `credential` authenticates at the target; throws CredentialRejectedError otherwise. */
  test(credential: Credential): Promise<void>;
  /** Makes the target refuse `credential`; optionally ends sessions opened with it (emergency). */
  revoke(credential: Credential, options: { terminateSessions: boolean }): Promise<void>;
  /** True when the target refuses `credential` (checked by logging in, never assumed). */
  isRevoked(credential: Credential): Promise<boolean>;
  /** Open sessions using `credential`, where the target can tell (PostgreSQL's pg_stat_activity). */
  activeSessions?(credential: Credential): Promise<number>;
  close(): Promise<void>;
}

/** The target refused a credential: a fact about the credential, so retrying does not help. */
export class CredentialRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialRejectedError';
  }
}

/** The target could not be reached or answered unexpectedly: retrying may help. */
export class TargetUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetUnavailableError';
  }
}

/** Removes every occurrence of the credential's values from a message before it is logged or thrown. */
export function scrub(message: string, credential: Credential | undefined): string {
  let out = message;
  for (const value of Object.values(credential ?? {})) if (value.length >= 6) out = out.split(value).join('[redacted]');
  return out;
}

import type { KvData } from '../../vault/kv-version-cache.js';
import type { ActivityContext } from '../activity-context.js';
import type { z } from 'zod';
import type { CredentialOf, ProviderSpecOf, ProviderType } from './schemas.js';

/**
 * A credential as stored in Vault KV v2: string fields only. Each provider narrows it with its
 * credential schema (schemas.ts); nothing outside activities/ ever sees one.
 */
export type Credential = KvData;

/**
 * rotor creates the value (a password): the stage step writes it to Vault, then `apply` makes the
 * target accept it (invariant vault-learns-first).
 */
export interface GeneratedCredential<C extends Credential> {
  readonly kind: 'generate';
  /** The credential to stage next, given the current one (undefined when seeding a new secret). */
  generate(current: C | undefined): Promise<C>;
  /** Makes the target accept `credential`. Idempotent: a retried step applies the same credential. */
  apply(credential: C): Promise<void>;
}

/**
 * The target creates the value (an access key, a Vault-generated secret ID): `mint` asks for it and
 * hands it to `stage`, which writes it to Vault before anything else learns it. The target already
 * accepts it, so there is nothing to apply.
 */
export interface MintedCredential<C extends Credential> {
  readonly kind: 'mint';
  /**
   * Mints one credential and resolves after `stage(credential)` resolved. A rejection of `stage` is
   * passed on (rotor then revokes what was minted); the value goes nowhere but `stage`.
   */
  mint(current: C | undefined, stage: (credential: C) => Promise<void>): Promise<void>;
}

/** Where a provider's new credentials come from. */
export type CredentialSource<C extends Credential> = GeneratedCredential<C> | MintedCredential<C>;

/**
 * Creates, tests and revokes credentials of type `C` at one kind of target. A provider is a folder
 * under activities/providers/ (schema.ts, provider.ts, tests) plus its entry in schemas.ts and
 * registry.ts.
 */
export interface Provider<C extends Credential = Credential, S extends CredentialSource<C> = CredentialSource<C>> {
  /** Who the credential authenticates as: two credentials of one principal cannot be revoked apart. */
  principal(credential: C): string;
  /** How a new credential comes to be. */
  readonly source: S;
  /**
   * Target-specific pre-checks before a rotation away from `current`, e.g. that the credential to
   * be staged will be able to do what `current` can (invariant one-working-credential); throws
   * CredentialRejectedError naming the inventory field and the fix.
   */
  precheck?(current: C): Promise<void>;
  /** Resolves when `credential` authenticates at the target (and does what it must); throws CredentialRejectedError otherwise. */
  test(credential: C): Promise<void>;
  /** Makes the target refuse `credential`; optionally ends sessions opened with it (emergency). */
  revoke(credential: C, options: { terminateSessions: boolean }): Promise<void>;
  /** True when the target refuses `credential` (checked by logging in, never assumed). */
  isRevoked(credential: C): Promise<boolean>;
  /**
   * Open sessions using `credential` (only those of clients named `clientName`, when given), where
   * the target lists them (traits.sessions: pg_stat_activity, a process list, CLIENT LIST).
   */
  activeSessions?(credential: C, filter?: { clientName?: string }): Promise<number>;
  close(): Promise<void>;
}

/**
 * Break-glass users for one secret's target, issued by Vault's database secrets engine (traits
 * breakGlass): one connection per secret, one Vault role per request.
 */
export interface BreakGlassTarget {
  /** The body of `database/config/<connection>` (plugin_name, connection_url, admin username and password, …). */
  connection: Record<string, unknown>;
  /** The role's creation and revocation statements for this target. */
  creationStatements: string[];
  revocationStatements: string[];
  /** Where the requester connects, handed over beside the username and password (host, port, database). */
  endpoint: Record<string, string>;
  /** True while a user of that name still exists at the target: a revoked lease is proved, never assumed. */
  userExists(username: string): Promise<boolean>;
}

/** One provider type: its schemas (from schemas.ts) and how to build its provider for one secret. */
export interface ProviderDefinition<T extends ProviderType> {
  /** The inventory's `provider:` entry (the same schema as in schemas.ts). */
  readonly inventory: z.ZodType<ProviderSpecOf<T>>;
  /** The credential at the secret's KV path; every credential read from Vault is parsed with it. */
  readonly credential: z.ZodType<CredentialOf<T>>;
  /** The provider of one secret; what it needs from Vault (an admin credential) it reads through `ctx`. */
  create(ctx: ActivityContext, spec: ProviderSpecOf<T>, secretId: string): Promise<Provider<CredentialOf<T>>>;
  /** Break-glass at this secret's target (only when its traits say breakGlass). */
  breakGlass?(ctx: ActivityContext, spec: ProviderSpecOf<T>, secretId: string): Promise<BreakGlassTarget>;
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

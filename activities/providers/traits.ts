/*
 * What a provider type tells the rest of rotor without running anything: which Vault paths its
 * secrets need (the worker policy is rendered from these), whether the target lists sessions
 * (observed cutover) and whether Vault's database engine can issue break-glass users for it. Pure
 * (config/ and vault/policies/ load it through schemas.ts): no client library, no I/O.
 */

export type PolicyCapability = 'create' | 'read' | 'update' | 'delete' | 'list' | 'sudo';

/** One path of a Vault policy: `why` is rendered as its comment. */
export interface VaultRule {
  path: string;
  capabilities: PolicyCapability[];
  why: string;
}

export interface PolicyContext {
  /** The KV v2 mount, e.g. "rotor". */
  kvMount: string;
  /** The secret's id (for `why`). */
  secretId: string;
  /**
   * Checks an inventory value before it becomes part of a policy path (a "*" or ".." would widen
   * it) and returns it; `field` is its name under `provider.`, e.g. "adminPath". Throws naming
   * `secrets[i].provider.<field>`.
   */
  safe(field: string, value: string): string;
}

export interface ProviderTraits<S> {
  /**
   * `confirm.mode: sessions` (observed cutover): the target lists open sessions by user
   * (`where`, e.g. "pg_stat_activity"); `clientName` when it can also tell one consumer's
   * clients apart by the name they connect with (`confirm.clientName`).
   */
  readonly sessions?: {
    readonly where: string;
    readonly clientName: boolean;
    /** Why this entry's sessions cannot tell the old credential from the new (one user, two passwords), or undefined when they can. */
    unavailable?(spec: S): string | undefined;
  };
  /**
   * What this entry rotates at its target, one string per principal (e.g. `postgres|<adminPath>|app_a`):
   * two secrets naming the same would rotate one credential against each other, so the inventory
   * refuses that.
   */
  targets?(spec: S): string[];
  /** Break-glass users can be issued by Vault's database engine for this target (ProviderDefinition.breakGlass). */
  readonly breakGlass?: boolean;
  /**
   * The Vault paths one secret of this type needs besides its KV path and staged location (an
   * admin credential, an AppRole role): held only by that secret's child tokens.
   */
  secretRules(spec: S, ctx: PolicyContext): VaultRule[];
  /** Paths not about one secret, in the worker policy once any secret of this type is in the inventory. */
  workerRules?(): VaultRule[];
}

/** The rule most providers need: read their admin credential at `provider.adminPath`. */
export function adminCredentialRule(adminPath: string, ctx: PolicyContext): VaultRule {
  return {
    path: `${ctx.kvMount}/data/${ctx.safe('adminPath', adminPath)}`,
    capabilities: ['read'],
    why: `${ctx.secretId}: admin credential`,
  };
}

/**
 * A Vault API failure reduced to what is safe to log: method, path, status and Vault's own
 * error strings. The raw HTTP client error is dropped because it carries the X-Vault-Token header.
 */
export class VaultRequestError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number | undefined,
    readonly vaultErrors: readonly string[],
  ) {
    super(`Vault ${method} ${path} failed${status ? ` with ${status}` : ''}: ${vaultErrors.join('; ') || 'no detail'}`);
    this.name = 'VaultRequestError';
  }

  /** KV v2 answers 400 "check-and-set parameter did not match the current version" on a CAS miss. */
  get isCasMismatch(): boolean {
    return this.status === 400 && this.vaultErrors.some((e) => e.includes('check-and-set'));
  }
}

/** A 403 that a new token may cure: the token expired or was revoked (Vault says "permission denied" for both). */
export function isRefusedToken(err: unknown): boolean {
  return err instanceof VaultRequestError && err.status === 403 && err.vaultErrors.some((e) => /invalid token|permission denied/.test(e));
}

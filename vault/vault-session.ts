import { VaultClient } from './vault-client.js';
import { VaultRequestError } from './vault-error.js';

/**
 * A Vault client logged in with the worker's AppRole. The token is renewed by logging in again
 * at half its TTL, or at once when Vault answers 403 (token expired or revoked).
 */
export class VaultSession {
  private client: VaultClient;
  private expiresAt = 0;
  private login: Promise<void> | undefined;

  constructor(
    readonly address: string,
    private readonly roleId: string,
    private readonly secretId: string,
  ) {
    this.client = new VaultClient(address);
  }

  /** An authenticated client; callers must not keep it across awaits of other work for long. */
  async get(): Promise<VaultClient> {
    if (Date.now() >= this.expiresAt) await this.relogin();
    return this.client;
  }

  /** Runs `op` with a fresh token, retrying once after a re-login on 403. */
  async run<T>(op: (vault: VaultClient) => Promise<T>): Promise<T> {
    const vault = await this.get();
    try {
      return await op(vault);
    } catch (err) {
      if (
        err instanceof VaultRequestError &&
        err.status === 403 &&
        err.vaultErrors.some((e) => /invalid token|permission denied/.test(e)) &&
        this.expiresAt !== 0
      ) {
        this.expiresAt = 0;
        return op(await this.get());
      }
      throw err;
    }
  }

  private relogin(): Promise<void> {
    this.login ??= (async () => {
      try {
        const anonymous = new VaultClient(this.address);
        const auth = await anonymous.approleLogin(this.roleId, this.secretId);
        this.client = new VaultClient(this.address, auth.client_token);
        this.expiresAt = Date.now() + (auth.lease_duration * 1000) / 2;
      } finally {
        this.login = undefined;
      }
    })();
    return this.login;
  }
}

import type { VaultClient } from './vault-client.js';
import { isRefusedToken } from './vault-error.js';

/** What activities need of a Vault session: a client now, or an operation retried once on a refused token. */
export interface VaultRunner {
  /** An authenticated client; callers must not keep it across awaits of other work for long. */
  get(): Promise<VaultClient>;
  /** Runs `op` with a fresh token, retrying once with a new token on 403. */
  run<T>(op: (vault: VaultClient) => Promise<T>): Promise<T>;
}

/** A child token as minted: its client, when to mint the next, and the worker login it descends from. */
export interface MintedToken {
  client: VaultClient;
  expiresAt: number;
  login: number;
}

/**
 * Requests about one secret, with a child token that holds only that secret's policy: OpenBao
 * builds the ACL of every request from all rules of the token's policies, so a token holding a
 * thousand secrets' rules pays for all of them on each request. The token is minted on first use
 * (concurrent first calls share one mint) and again near its expiry, after the worker logs in
 * again (children die with their parent), or once on a 403.
 */
export class SecretSession implements VaultRunner {
  private token: MintedToken | undefined;
  private minting: Promise<VaultClient> | undefined;

  constructor(
    private readonly mint: () => Promise<MintedToken>,
    /** The worker's current login; a token minted under an earlier one is replaced. */
    private readonly currentLogin: () => number,
  ) {}

  async get(): Promise<VaultClient> {
    const t = this.token;
    if (t && Date.now() < t.expiresAt && t.login === this.currentLogin()) return t.client;
    this.minting ??= (async () => {
      try {
        this.token = await this.mint();
        return this.token.client;
      } finally {
        this.minting = undefined;
      }
    })();
    return this.minting;
  }

  async run<T>(op: (vault: VaultClient) => Promise<T>): Promise<T> {
    const vault = await this.get();
    try {
      return await op(vault);
    } catch (err) {
      if (!isRefusedToken(err)) throw err;
      // Only the token that was refused is dropped: a concurrent caller may have minted a new one already.
      if (this.token?.client === vault) this.token = undefined;
      return op(await this.get());
    }
  }
}

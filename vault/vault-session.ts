import { SECRET_TOKEN_TTL, secretPolicyName, secretsTokenRole } from './policies/worker-policy.js';
import { SecretSession, type MintedToken, type VaultRunner } from './secret-session.js';
import { VaultClient } from './vault-client.js';
import { isRefusedToken } from './vault-error.js';

/**
 * A Vault client logged in with the worker's AppRole. The token is renewed by logging in again
 * at half its TTL, or at once when Vault answers 403 (token expired or revoked). Requests about
 * one secret go through `forSecret`, with a child token holding only that secret's policy.
 */
export class VaultSession implements VaultRunner {
  private client: VaultClient;
  private expiresAt = 0;
  private login: Promise<void> | undefined;
  /** Counts logins: child tokens minted under an earlier one are replaced. */
  private logins = 0;
  /** The login token's policies but `default`: one, the worker policy `P`, names the secret policies. */
  private policies: string[] = [];
  private readonly secrets = new Map<string, SecretSession>();

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
      if (isRefusedToken(err) && this.expiresAt !== 0) {
        this.expiresAt = 0;
        return op(await this.get());
      }
      throw err;
    }
  }

  /**
   * The session for requests about one secret (its KV path, staged credentials, admin credential,
   * AppRole role): a child token of the worker's, holding only `P-secret-<id>`.
   */
  forSecret(secretId: string): VaultRunner {
    let session = this.secrets.get(secretId);
    if (!session) {
      session = new SecretSession(
        () => this.mintFor(secretId),
        () => this.logins,
      );
      this.secrets.set(secretId, session);
    }
    return session;
  }

  private async mintFor(secretId: string): Promise<MintedToken> {
    return this.run(async (v) => {
      // The login this token descends from: read after `run` logged in, if it had to.
      const login = this.logins;
      if (this.policies.length !== 1)
        throw new Error(
          `the worker's token holds ${this.policies.length} policies (${this.policies.join(', ')}); rotor expects exactly one, its worker policy`,
        );
      const policy = this.policies[0]!;
      const body = await v.request<{ auth: { client_token: string; lease_duration: number } }>(
        'POST',
        `auth/token/create/${secretsTokenRole(policy)}`,
        { policies: [secretPolicyName(policy, secretId)], ttl: SECRET_TOKEN_TTL, meta: { rotor_secret: secretId } },
      );
      return {
        client: new VaultClient(this.address, body.auth.client_token),
        expiresAt: Date.now() + (body.auth.lease_duration * 1000) / 2,
        login,
      };
    });
  }

  private relogin(): Promise<void> {
    this.login ??= (async () => {
      try {
        const anonymous = new VaultClient(this.address);
        const auth = await anonymous.approleLogin(this.roleId, this.secretId);
        this.policies = (auth.token_policies ?? []).filter((p) => p !== 'default');
        this.client = new VaultClient(this.address, auth.client_token);
        this.expiresAt = Date.now() + (auth.lease_duration * 1000) / 2;
        this.logins += 1;
      } finally {
        this.login = undefined;
      }
    })();
    return this.login;
  }
}

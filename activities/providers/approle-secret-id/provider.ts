import { createHash, randomUUID } from 'node:crypto';
import { VaultClient } from '../../../vault/vault-client.js';
import { VaultRequestError } from '../../../vault/vault-error.js';
import type { VaultRunner } from '../../../vault/secret-session.js';
import {
  CredentialRejectedError,
  TargetUnavailableError,
  type CredentialSource,
  type Provider,
  type ProviderDefinition,
} from '../provider.js';
import { approleCredential, approleSpec, SecretIdSource, type AppRoleCredential, type AppRoleSpec } from './schema.js';

/** The secret-ID (and so token) metadata key that ties tokens to the secret ID they were issued with. */
const TOKEN_TAG = 'rotor_token_tag';

/**
 * The tag of a secret ID rotor chose: a digest, so revocation can derive it even after the secret
 * ID is destroyed (a minted one gets a random tag, known only while the secret ID exists).
 */
const tagOf = (secretId: string) => createHash('sha256').update(`rotor-token-tag:${secretId}`).digest('hex').slice(0, 32);

/**
 * AppRole secret IDs: several are valid at once, so the new one is added beside the old and the
 * old one is destroyed by accessor at the end. With `secretIdSource: rotor` the secret ID is
 * chosen by rotor (custom-secret-id), so Vault KV learns it before the AppRole accepts it; with
 * `vault` the AppRole generates it and rotor stages it in KV before anything else sees it.
 */
export function approleProvider(
  spec: AppRoleSpec,
  /** The worker's own session: token accessors (an emergency revocation) are not about one secret. */
  session: VaultRunner,
  /** The secret's session: its AppRole role's endpoints are in its policy only. */
  role: VaultRunner,
  vaultAddress: string,
): Provider<AppRoleCredential> {
  const base = `auth/${spec.mount}/role/${spec.role}`;

  async function lookup(secretId: string): Promise<{ secret_id_accessor: string; metadata?: Record<string, string> | null } | undefined> {
    try {
      const body = await role.run((v) =>
        v.request<{ data?: { secret_id_accessor: string; metadata?: Record<string, string> | null } } | undefined>(
          'POST',
          `${base}/secret-id/lookup`,
          { secret_id: secretId },
        ),
      );
      return body?.data ?? undefined;
    } catch (err) {
      if (err instanceof VaultRequestError && (err.status === 404 || err.status === 204)) return undefined;
      throw err;
    }
  }

  async function tryLogin(credential: AppRoleCredential): Promise<'ok' | 'refused'> {
    const anonymous = new VaultClient(vaultAddress);
    try {
      const auth = await anonymous.approleLogin(credential.role_id, credential.secret_id, spec.mount);
      // Do not leave a token behind for every test login.
      await new VaultClient(vaultAddress, auth.client_token).request('POST', 'auth/token/revoke-self').catch(() => undefined);
      return 'ok';
    } catch (err) {
      // Only Vault's own "invalid secret id" is proof of refusal; a 429 or 5xx says nothing (invariant revocation-verified).
      if (err instanceof VaultRequestError && err.status === 400 && err.vaultErrors.some((e) => /invalid (role or )?secret id/i.test(e)))
        return 'refused';
      throw new TargetUnavailableError(`AppRole login to ${spec.role} failed: ${(err as Error).message}`);
    }
  }

  /**
   * Every secret ID rotor creates carries a tag in its metadata (`tagOf` or, minted, a random one);
   * Vault copies secret-ID metadata onto the tokens issued with it, which is how an emergency
   * revocation finds them.
   */
  const tagged = (tag: string) => ({ metadata: JSON.stringify({ [TOKEN_TAG]: tag }) });

  /**
   * Revokes every token issued with the secret ID tagged `tag` and proves each is gone (a lookup
   * of its accessor is refused). Vault has no index from secret ID to tokens: this lists every
   * token accessor (sudo), which incident response can afford.
   */
  async function revokeTokensTagged(tag: string): Promise<void> {
    const listed = await session.run((v) => v.request<{ data: { keys: string[] } }>('LIST', 'auth/token/accessors'));
    for (const accessor of listed.data.keys) {
      const meta = await tokenMeta(accessor);
      if (meta?.[TOKEN_TAG] !== tag) continue;
      await session.run((v) => v.request('POST', 'auth/token/revoke-accessor', { accessor }));
      if (await tokenMeta(accessor))
        throw new TargetUnavailableError(`a token issued with the secret ID of ${spec.role} still exists after revocation`);
    }
  }

  /** A token's metadata by accessor, or undefined once the token is gone. */
  async function tokenMeta(accessor: string): Promise<Record<string, string> | undefined> {
    try {
      const body = await session.run((v) =>
        v.request<{ data: { meta: Record<string, string> | null } }>('POST', 'auth/token/lookup-accessor', { accessor }),
      );
      return body.data.meta ?? {};
    } catch (err) {
      // Only Vault's "invalid accessor" proves the token gone; a 403 is a policy problem, not proof.
      if (err instanceof VaultRequestError && err.status === 400) return undefined;
      throw err;
    }
  }

  const roleIdOf = async (current: AppRoleCredential | undefined): Promise<string> =>
    current?.role_id ?? (await role.run((v) => v.request<{ data: { role_id: string } }>('GET', `${base}/role-id`))).data.role_id;

  const source: CredentialSource<AppRoleCredential> =
    spec.secretIdSource === SecretIdSource.VAULT
      ? {
          kind: 'mint',
          async mint(current, stage) {
            const role_id = await roleIdOf(current);
            const minted = await role.run((v) =>
              v.request<{ data: { secret_id: string } }>('POST', `${base}/secret-id`, tagged(randomUUID())),
            );
            await stage({ role_id, secret_id: minted.data.secret_id });
          },
        }
      : {
          kind: 'generate',
          async generate(current) {
            return { role_id: await roleIdOf(current), secret_id: randomUUID() };
          },
          async apply(credential) {
            if (await lookup(credential.secret_id)) return; // a retried step: already accepted
            await role.run((v) =>
              v.request('POST', `${base}/custom-secret-id`, { secret_id: credential.secret_id, ...tagged(tagOf(credential.secret_id)) }),
            );
          },
        };

  return {
    // Each secret ID is its own principal; named by a digest so the name is never a secret.
    principal: (credential) => `approle-secret-id:${spec.role}:${createHash('sha256').update(credential.secret_id).digest('hex')}`,

    source,

    async test(credential) {
      if ((await tryLogin(credential)) === 'refused') {
        throw new CredentialRejectedError(`AppRole "${spec.role}" refused the secret ID`);
      }
    },

    async revoke(credential, { terminateSessions }) {
      const found = await lookup(credential.secret_id);
      if (found)
        await role.run((v) => v.request('POST', `${base}/secret-id-accessor/destroy`, { secret_id_accessor: found.secret_id_accessor }));
      // In an emergency the tokens already issued with it go too (destroying a secret ID ends no
      // token), after the destroy, so no login slips in between. A retry after the destroy finds no
      // metadata: the tag of a secret ID rotor chose is derived from it, so the retry still works.
      if (terminateSessions) await revokeTokensTagged(found?.metadata?.[TOKEN_TAG] ?? tagOf(credential.secret_id));
    },

    async isRevoked(credential) {
      return (await tryLogin(credential)) === 'refused';
    },

    async close() {},
  };
}

export const approleDefinition: ProviderDefinition<'approle-secret-id'> = {
  inventory: approleSpec,
  credential: approleCredential,
  create: async (ctx, spec, secretId) => approleProvider(spec, ctx.vault, ctx.vault.forSecret(secretId), ctx.env.ROTOR_VAULT_ADDR),
};

import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { approleProvider } from '../../config/inventory-schema.js';
import type { VaultSession } from '../../vault/vault-session.js';
import { VaultClient } from '../../vault/vault-client.js';
import { VaultRequestError } from '../../vault/vault-error.js';
import { CredentialRejectedError, TargetUnavailableError, type Provider } from './provider.js';

/**
 * AppRole secret IDs: several are valid at once, so the new one is added beside the old and the
 * old one is destroyed by accessor at the end. The secret ID is chosen by us (custom-secret-id)
 * so Vault KV learns it before the AppRole accepts it.
 */
export function approleProviderFor(spec: z.infer<typeof approleProvider>, session: VaultSession, vaultAddress: string): Provider {
  const base = `auth/${spec.mount}/role/${spec.role}`;

  async function lookup(secretId: string): Promise<{ secret_id_accessor: string } | undefined> {
    try {
      const body = await session.run((v) =>
        v.request<{ data?: { secret_id_accessor: string } } | undefined>('POST', `${base}/secret-id/lookup`, { secret_id: secretId }),
      );
      return body?.data ?? undefined;
    } catch (err) {
      if (err instanceof VaultRequestError && (err.status === 404 || err.status === 204)) return undefined;
      throw err;
    }
  }

  async function tryLogin(roleId: string, secretId: string): Promise<'ok' | 'refused'> {
    const anonymous = new VaultClient(vaultAddress);
    try {
      const auth = await anonymous.approleLogin(roleId, secretId, spec.mount);
      // Do not leave a token behind for every test login.
      await new VaultClient(vaultAddress, auth.client_token).request('POST', 'auth/token/revoke-self').catch(() => undefined);
      return 'ok';
    } catch (err) {
      // Only Vault's own "invalid secret id" is proof of refusal; a 429 or 5xx says nothing (invariant 7).
      if (err instanceof VaultRequestError && err.status === 400 && err.vaultErrors.some((e) => /invalid (role or )?secret id/i.test(e)))
        return 'refused';
      throw new TargetUnavailableError(`AppRole login to ${spec.role} failed: ${(err as Error).message}`);
    }
  }

  return {
    principal: (credential) => `approle-secret-id:${spec.role}:${credential.secret_id}`,

    async generate(current) {
      const roleId =
        current?.role_id ?? (await session.run((v) => v.request<{ data: { role_id: string } }>('GET', `${base}/role-id`))).data.role_id;
      return { role_id: roleId, secret_id: randomUUID() };
    },

    async apply(credential) {
      if (await lookup(credential.secret_id!)) return; // a retried step: already accepted
      await session.run((v) => v.request('POST', `${base}/custom-secret-id`, { secret_id: credential.secret_id }));
    },

    async test(credential) {
      if ((await tryLogin(credential.role_id!, credential.secret_id!)) === 'refused') {
        throw new CredentialRejectedError(`AppRole "${spec.role}" refused the secret ID`);
      }
    },

    async revoke(credential) {
      const found = await lookup(credential.secret_id!);
      if (!found) return;
      await session.run((v) => v.request('POST', `${base}/secret-id-accessor/destroy`, { secret_id_accessor: found.secret_id_accessor }));
    },

    async isRevoked(credential) {
      return (await tryLogin(credential.role_id!, credential.secret_id!)) === 'refused';
    },

    async close() {},
  };
}

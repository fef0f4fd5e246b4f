import { join } from 'node:path';
import { distinctToken } from '../../cli/operator-session.js';
import { VaultClient } from '../../vault/vault-client.js';
import { IDENTITY_ROLE } from '../../vault/policies/operator-policy.js';
import type { StackFile } from '../../stack/up.js';

/** The local stack's people (stack/bootstrap-identity.ts): alice, bob request; carol, dave, erin approve; alice, carol respond to incidents. */
export type OperatorName = 'alice' | 'bob' | 'carol' | 'dave' | 'erin';

const tokens = new Map<string, Promise<string>>();

/** The person's own Vault token (userpass login, as `rotor login` does), once per test process. */
export function operatorToken(file: StackFile, user: OperatorName): Promise<string> {
  const key = `${file.env.ROTOR_VAULT_ADDR}/${user}`;
  let token = tokens.get(key);
  if (!token) {
    const password = file.operators[user];
    if (!password) throw new Error(`the test stack has no operator ${user}`);
    token = new VaultClient(file.env.ROTOR_VAULT_ADDR!)
      .request<{ auth: { client_token: string } }>('POST', `auth/userpass/login/${user}`, { password })
      .then((r) => r.auth.client_token);
    tokens.set(key, token);
  }
  return token;
}

/**
 * A fresh Vault identity token proving `user` for one action (what the CLI sends): never the same
 * token twice (two minted in one second are identical, and the worker accepts each once).
 */
export async function identityToken(file: StackFile, user: OperatorName): Promise<string> {
  const vault = new VaultClient(file.env.ROTOR_VAULT_ADDR!, await operatorToken(file, user));
  return distinctToken(
    async () => (await vault.request<{ data: { token: string } }>('GET', `identity/oidc/token/${IDENTITY_ROLE}`)).data.token,
    join(file.stateDir, `cli-token-${user}.last-issued`), // shared with the CLI runs of run-cli.ts
  );
}

import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { IDENTITY_ROLE } from '../vault/policies/operator-policy.js';
import { VaultClient } from '../vault/vault-client.js';
import { VaultRequestError } from '../vault/vault-error.js';
import { CliError } from './cli-error.js';
import type { OperatorEnvironment } from './operator-environment.js';

/** Who the operator's Vault token belongs to, as Vault says (auth/token/lookup-self). */
export interface Operator {
  name: string;
  entityId: string;
  policies: string[];
  expireTime: string | null;
}

const notLoggedIn = () =>
  new CliError('not logged in to Vault', 'run `rotor login <user>` (or export ROTOR_VAULT_TOKEN with your own Vault token)');

/** The operator's token: ROTOR_VAULT_TOKEN, else the file `rotor login` wrote. */
export async function operatorToken(env: OperatorEnvironment): Promise<string> {
  if (env.ROTOR_VAULT_TOKEN) return env.ROTOR_VAULT_TOKEN;
  if (!existsSync(env.ROTOR_TOKEN_FILE)) throw notLoggedIn();
  return (await readFile(env.ROTOR_TOKEN_FILE, 'utf8')).trim();
}

/** Written to a fresh 0600 file, then renamed over the old one: never readable by others, even briefly. */
export async function saveToken(env: OperatorEnvironment, token: string): Promise<void> {
  await mkdir(dirname(env.ROTOR_TOKEN_FILE), { recursive: true, mode: 0o700 });
  const fresh = `${env.ROTOR_TOKEN_FILE}.${process.pid}.new`;
  await rm(fresh, { force: true });
  await writeFile(fresh, token, { mode: 0o600, flag: 'wx' });
  await rename(fresh, env.ROTOR_TOKEN_FILE);
}

/** Revokes the saved login at Vault (best effort: it may have expired) and removes it. */
export async function forgetToken(env: OperatorEnvironment): Promise<void> {
  if (existsSync(env.ROTOR_TOKEN_FILE)) {
    const token = (await readFile(env.ROTOR_TOKEN_FILE, 'utf8')).trim();
    await new VaultClient(env.ROTOR_VAULT_ADDR, token).request('POST', 'auth/token/revoke-self').catch(() => undefined);
  }
  await rm(env.ROTOR_TOKEN_FILE, { force: true });
}

/** A Vault refusal named for the operator: an expired login, or a policy that lacks a path. */
export function operatorVaultError(err: unknown, what: string): unknown {
  if (!(err instanceof VaultRequestError)) return err;
  if (err.status === 403)
    return new CliError(
      `Vault refused ${what} with your token (${err.vaultErrors.join('; ') || 'permission denied'})`,
      'your login may have expired (run `rotor login <user>` again), or your Vault policy lacks rotor-operator',
    );
  return new CliError(
    `Vault answered ${err.status ?? 'nothing'} to ${what}: ${err.vaultErrors.join('; ')}`,
    'is Vault reachable and unsealed?',
  );
}

/** The operator's Vault session: their own token, never the worker's. */
export class OperatorSession {
  private constructor(readonly vault: VaultClient) {}

  static async open(env: OperatorEnvironment): Promise<OperatorSession> {
    const session = new OperatorSession(new VaultClient(env.ROTOR_VAULT_ADDR, await operatorToken(env)));
    session.lastIssuedFile = `${env.ROTOR_TOKEN_FILE}.last-issued`;
    return session;
  }

  async whoami(): Promise<Operator> {
    try {
      const self = await this.vault.request<{
        data: { display_name: string; entity_id: string; policies: string[]; identity_policies?: string[]; expire_time: string | null };
      }>('GET', 'auth/token/lookup-self');
      const d = self.data;
      return {
        // userpass tokens are named "userpass-<user>"; the entity name is what rotor records.
        name: d.display_name.replace(/^[a-z]+-/, ''),
        entityId: d.entity_id,
        policies: [...d.policies, ...(d.identity_policies ?? [])],
        expireTime: d.expire_time,
      };
    } catch (err) {
      throw operatorVaultError(err, 'a lookup of your own token');
    }
  }

  /**
   * A fresh identity token for one action: short-lived, and the worker accepts each once, so one
   * read out of workflow history is useless to anyone else.
   */
  async identityToken(): Promise<string> {
    const mint = async () => {
      try {
        return (await this.vault.request<{ data: { token: string } }>('GET', `identity/oidc/token/${IDENTITY_ROLE}`)).data.token;
      } catch (err) {
        throw operatorVaultError(err, `minting an identity token (identity/oidc/token/${IDENTITY_ROLE})`);
      }
    };
    return distinctToken(mint, this.lastIssuedFile);
  }

  /** Where the issue second of this operator's last identity token is kept (beside the login token). */
  private lastIssuedFile?: string;
}

/** The `iat` (issue second) of a Vault identity token. */
function issuedAt(token: string): number {
  return (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { iat?: number }).iat ?? 0;
}

/**
 * Vault identity tokens carry no nonce: one person's two tokens minted in the same second are the
 * same token, and the worker accepts each token once, so the second action would be refused as a
 * replay. Minting is serialised per person through a lock file beside `memoryFile`, which keeps the
 * issue second of the last token: a token from that second is minted again in the next one.
 */
export async function distinctToken(mint: () => Promise<string>, memoryFile?: string): Promise<string> {
  const release = memoryFile ? await lockFile(`${memoryFile}.lock`) : undefined;
  try {
    let last = 0;
    if (memoryFile && existsSync(memoryFile)) last = Number((await readFile(memoryFile, 'utf8').catch(() => '0')).trim()) || 0;
    let token = await mint();
    while (issuedAt(token) <= last) {
      await new Promise((r) => setTimeout(r, Math.max(50, (last + 1) * 1000 - Date.now() + 20)));
      token = await mint();
    }
    if (memoryFile) await writeFile(memoryFile, String(issuedAt(token)), { mode: 0o600 }).catch(() => undefined);
    return token;
  } finally {
    await release?.();
  }
}

/** An exclusive lock file (O_EXCL); one left by a killed process is taken over after 5 s. */
async function lockFile(path: string): Promise<(() => Promise<void>) | undefined> {
  for (let waited = 0; ; waited += 50) {
    try {
      await (await open(path, 'wx', 0o600)).close();
      return () => rm(path, { force: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // No writable place for it (a read-only home): mint without the cross-process guard.
      if (code !== 'EEXIST') return undefined;
      const age = await stat(path).then(
        (st) => Date.now() - st.mtimeMs,
        () => 0,
      );
      if (age > 5_000 || waited > 10_000) await rm(path, { force: true });
      else await new Promise((r) => setTimeout(r, 50));
    }
  }
}

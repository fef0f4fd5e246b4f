import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { VaultClient } from '../../vault/vault-client.js';
import { VaultRequestError } from '../../vault/vault-error.js';
import { CliError, usageError } from '../cli-error.js';
import { localStackFile, operatorEnvironment } from '../operator-environment.js';
import { forgetToken, OperatorSession, saveToken } from '../operator-session.js';

export const loginHelp = `usage: rotor login <user>
       rotor whoami
       rotor identity-token
       rotor logout

Logs in to Vault as <user> (the auth method at ROTOR_AUTH_MOUNT, default userpass) and keeps
your token in ROTOR_TOKEN_FILE (default ~/.config/rotor/token, mode 0600). Every other command
then acts as you: it reads with your token and sends a Vault identity token, minted for that one
action, which the worker verifies. The password comes from ROTOR_PASSWORD, else the terminal; on
the local stack ('npm start') the local operators' passwords are in .rotor/local/operators.json.
'identity-token' prints a fresh token for one action (the Temporal UI's "Send an Update").`;

async function promptPassword(user: string): Promise<string> {
  if (!process.stdin.isTTY)
    throw new CliError(`no password for ${user}`, 'set ROTOR_PASSWORD, or run rotor login in a terminal to be asked for it');
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  // Echo nothing while the password is typed.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
  process.stdout.write(`Vault password for ${user}: `);
  const answer = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  process.stdout.write('\n');
  return answer;
}

/** The local stack's operator password (operators.json), when the CLI talks to the local stack (development only). */
function localPassword(vaultAddr: string, user: string): string | undefined {
  const file = localStackFile();
  const passwords = join(dirname(file), 'operators.json');
  if (!existsSync(file) || !existsSync(passwords)) return undefined;
  const stack = JSON.parse(readFileSync(file, 'utf8')) as { env: Record<string, string> };
  if (stack.env.ROTOR_VAULT_ADDR !== vaultAddr) return undefined;
  return (JSON.parse(readFileSync(passwords, 'utf8')) as Record<string, string>)[user];
}

export async function login([sub, user]: string[]): Promise<number> {
  const env = operatorEnvironment();
  if (sub === 'logout') {
    await forgetToken(env);
    console.log(`logged out (removed ${env.ROTOR_TOKEN_FILE})`);
    return 0;
  }
  if (sub === 'identity-token') {
    // For the Temporal UI's "Send an Update" and API callers: one action, two minutes, used once.
    console.log(await (await OperatorSession.open(env)).identityToken());
    return 0;
  }
  if (sub === 'whoami') {
    const me = await (await OperatorSession.open(env)).whoami();
    console.log(`${me.name} (entity ${me.entityId}; policies ${me.policies.join(', ')}; token expires ${me.expireTime ?? 'never'})`);
    return 0;
  }
  if (!user) throw usageError('missing <user>', 'name your Vault login, e.g. rotor login carol');
  const password = process.env.ROTOR_PASSWORD ?? localPassword(env.ROTOR_VAULT_ADDR, user) ?? (await promptPassword(user));
  const vault = new VaultClient(env.ROTOR_VAULT_ADDR);
  let token: string;
  try {
    token = (
      await vault.request<{ auth: { client_token: string } }>('POST', `auth/${env.ROTOR_AUTH_MOUNT}/login/${encodeURIComponent(user)}`, {
        password,
      })
    ).auth.client_token;
  } catch (err) {
    if (err instanceof VaultRequestError && (err.status === 400 || err.status === 403))
      throw new CliError(
        `Vault refused the login of ${user} (${err.vaultErrors.join('; ') || 'invalid credentials'})`,
        'check the user name and password',
      );
    throw err;
  }
  await saveToken(env, token);
  const me = await (await OperatorSession.open({ ...env, ROTOR_VAULT_TOKEN: token })).whoami();
  console.log(
    `logged in as ${me.name} (entity ${me.entityId}); token saved in ${env.ROTOR_TOKEN_FILE}, expires ${me.expireTime ?? 'never'}`,
  );
  return 0;
}

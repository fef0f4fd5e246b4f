import { chmod, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { VaultClient } from '../vault/vault-client.js';
import { runCommand } from './run-command.js';
import { startProcess, type ManagedProcess } from './managed-process.js';
import type { Ports } from './ports.js';
import { StackError } from './stack-error.js';
import { waitFor } from './wait-for.js';

/** Local-only unseal key and root token: never used by the worker, kept 0600 in the state dir. */
export interface VaultInit {
  unsealKey: string;
  rootToken: string;
}

/** OpenBao only accepts audit devices declared in its config file; Vault takes them over the API. */
function configHcl(stateDir: string, port: number, isOpenBao: boolean): string {
  const audit = isOpenBao
    ? `audit "file" "file" {
  options {
    file_path = "${join(stateDir, 'vault-audit.log')}"
  }
}
`
    : '';
  return `${audit}storage "file" {
  path = "${join(stateDir, 'vault-data')}"
}
listener "tcp" {
  address     = "127.0.0.1:${port}"
  tls_disable = true
}
api_addr      = "http://127.0.0.1:${port}"
disable_mlock = true
ui            = false
`;
}

export async function startVault(
  bin: string,
  stateDir: string,
  ports: Ports,
): Promise<{ proc: ManagedProcess; init: VaultInit; address: string; isOpenBao: boolean }> {
  const logFile = join(stateDir, 'vault.log');
  const configFile = join(stateDir, 'vault.hcl');
  const version = await runCommand(bin, ['version']);
  const isOpenBao = version.stdout.includes('OpenBao');
  await writeFile(configFile, configHcl(stateDir, ports.vault, isOpenBao));
  const proc = startProcess('vault', bin, ['server', `-config=${configFile}`], logFile);
  const address = `http://127.0.0.1:${ports.vault}`;
  const vault = new VaultClient(address);
  try {
    await waitFor(
      'Vault API',
      async () => (await vault.health()).version !== undefined,
      30_000,
      () => (proc.child.exitCode !== null ? `exited with code ${proc.child.exitCode}` : undefined),
    );
    const init = await initOrLoad(vault, join(stateDir, 'vault-init.json'));
    const health = await vault.health();
    if (health.sealed) {
      const result = await vault.unseal(init.unsealKey);
      if (result.sealed) throw new Error('still sealed after the unseal key was applied');
    }
    return { proc, init, address, isOpenBao };
  } catch (err) {
    await proc.stop();
    throw new StackError(
      `Vault API server did not come up unsealed: ${(err as Error).message}`,
      'read the log; if vault-init.json was lost the storage cannot be unsealed: `npm run stack -- reset`',
      logFile,
    );
  }
}

async function initOrLoad(vault: VaultClient, initFile: string): Promise<VaultInit> {
  const health = await vault.health();
  if (health.initialized) {
    if (!existsSync(initFile)) {
      throw new Error(`the storage is initialised but ${initFile} (its unseal key) is missing`);
    }
    return JSON.parse(await readFile(initFile, 'utf8')) as VaultInit;
  }
  // One key share: this is a local development stack, not a production seal.
  const result = await vault.init(1, 1);
  const init: VaultInit = { unsealKey: result.keys_base64[0]!, rootToken: result.root_token };
  await writeFile(initFile, JSON.stringify(init, null, 2), { mode: 0o600 });
  await chmod(initFile, 0o600);
  return init;
}

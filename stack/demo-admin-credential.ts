import { randomBytes } from 'node:crypto';
import type { VaultClient } from '../vault/vault-client.js';
import { KV_MOUNT } from './bootstrap-vault.js';

/** A demo target's admin credential as the mysql and redis-acl providers read it from Vault. */
export interface DemoAdminCredential {
  username: string;
  password: string;
  host: string;
  port: string;
}

/**
 * The admin credential at `path`, written to Vault before the target learns it (invariant
 * vault-learns-first): the stored password is kept across runs, and the entry is rewritten only
 * when the user or where the target listens changed (ROTOR_*_PORT), never with a new password.
 */
export async function demoAdminCredential(
  vault: VaultClient,
  path: string,
  target: { username: string; host: string; port: number },
): Promise<DemoAdminCredential> {
  const stored = (await vault.kvRead<Partial<DemoAdminCredential>>(KV_MOUNT, path))?.data;
  const credential: DemoAdminCredential = {
    username: target.username,
    password: stored?.password || randomBytes(24).toString('base64url'),
    host: target.host,
    port: String(target.port),
  };
  const same = (Object.keys(credential) as (keyof DemoAdminCredential)[]).every((k) => stored?.[k] === credential[k]);
  if (!same) await vault.kvWrite(KV_MOUNT, path, { ...credential });
  return credential;
}

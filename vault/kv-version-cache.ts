import type { KvRead, KvVersionMetadata } from './vault-client.js';

/** The data of one KV v2 version as rotor stores it: string fields only (a credential). */
export type KvData = Readonly<Record<string, string>>;

/** How long a version stays cached: one rotation's steps, not longer (the values are credentials). */
const TTL_MS = 2 * 60_000;
const MAX_ENTRIES = 2_000;

/**
 * Reads of KV v2 versions this worker already knows. A version's data never changes once written
 * (only its deletion state does, which the rollback re-reads from Vault), and a staged credential
 * is written exactly once (cas=0). A rotation reads the same versions in almost every step;
 * serving them from here halves its Vault round trips (bench/revoke-all.ts). Current-version
 * lookups always go to Vault: they decide check-and-set.
 */
export class KvVersionCache {
  private readonly entries = new Map<string, { at: number; read: KvRead<KvData> }>();

  get(mount: string, path: string, version: number): KvRead<KvData> | undefined {
    const key = `${mount}/${path}#${version}`;
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (Date.now() - hit.at > TTL_MS) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.read;
  }

  set(mount: string, path: string, read: KvRead<KvData>): void {
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(`${mount}/${path}#${read.metadata.version}`, { at: Date.now(), read });
  }

  /** Remembers a version this worker just wrote (it has no custom metadata yet). */
  setWritten(mount: string, path: string, data: KvData, written: KvVersionMetadata): void {
    this.set(mount, path, { data, metadata: { ...written, custom_metadata: null } });
  }

  /** Forgets every version of `path` (its versions were destroyed or its metadata deleted). */
  forget(mount: string, path: string): void {
    const prefix = `${mount}/${path}#`;
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key);
  }
}

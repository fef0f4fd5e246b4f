/**
 * What providers keep between activities: admin credentials read from Vault (briefly) and
 * long-lived connection pools to targets. One per worker, in the ActivityContext, so two workers
 * in one process (tests, benchmarks) never share them and closing a worker closes its pools.
 */
export class ProviderCaches {
  private readonly values = new Map<string, { at: number; value: unknown }>();
  private readonly pools = new Map<string, { fingerprint: string; pool: unknown; close: () => Promise<void> }>();

  /**
   * `load()`'s result, loaded at most every `ttlMs` per key. Keys name what they cache (provider
   * type, Vault address, path), so one key always holds one type of value.
   */
  async remembered<T>(key: string, ttlMs: number, load: () => Promise<T>): Promise<T> {
    const hit = this.values.get(key);
    if (hit && Date.now() - hit.at < ttlMs) return hit.value as T;
    const value = await load();
    this.values.set(key, { at: Date.now(), value });
    return value;
  }

  /**
   * A pool shared by every activity of this worker, created on first use. A different
   * `fingerprint` (the admin password changed in Vault) replaces it: new connections use the new
   * credential, the old pool is closed.
   */
  pooled<P>(key: string, fingerprint: string, create: () => { pool: P; close: () => Promise<void> }): P {
    const known = this.pools.get(key);
    if (known?.fingerprint === fingerprint) return known.pool as P;
    if (known) void known.close().catch(() => undefined);
    const created = create();
    this.pools.set(key, { fingerprint, ...created });
    return created.pool;
  }

  /** Closes every pool (the worker is shutting down) and forgets every cached value. */
  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    this.values.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => undefined)));
  }
}

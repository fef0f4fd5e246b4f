import { afterEach, describe, expect, it, vi } from 'vitest';
import { KvVersionCache } from '../../vault/kv-version-cache.js';

const read = (version: number, password: string) => ({
  data: { username: 'app_a', password },
  metadata: { version, created_time: '2026-11-23T00:00:00Z', deletion_time: '', destroyed: false, custom_metadata: null },
});

describe('KvVersionCache: versions a worker already read, for one rotation’s steps', () => {
  afterEach(() => vi.useRealTimers());

  it('serves a version by mount, path and number, and nothing else', () => {
    const cache = new KvVersionCache();
    cache.set('rotor', 'db/app', read(3, 'p3'));
    expect(cache.get('rotor', 'db/app', 3)?.data.password).toBe('p3');
    expect(cache.get('rotor', 'db/app', 4)).toBeUndefined();
    expect(cache.get('rotor', 'db/other', 3)).toBeUndefined();
    expect(cache.get('kv', 'db/app', 3)).toBeUndefined();
  });

  it('forgets a path (a discarded staged credential, a re-seeded secret) and entries older than two minutes', () => {
    vi.useFakeTimers();
    const cache = new KvVersionCache();
    cache.set('rotor', 'db/app', read(1, 'p1'));
    cache.set('rotor', 'db/app', read(2, 'p2'));
    cache.set('rotor', 'db/app-2', read(1, 'other'));
    cache.forget('rotor', 'db/app');
    expect(cache.get('rotor', 'db/app', 1)).toBeUndefined();
    expect(cache.get('rotor', 'db/app', 2)).toBeUndefined();
    expect(cache.get('rotor', 'db/app-2', 1)?.data.password).toBe('other'); // a path sharing the prefix stays
    vi.advanceTimersByTime(2 * 60_000 + 1);
    expect(cache.get('rotor', 'db/app-2', 1)).toBeUndefined();
  });

  it('holds at most 2,000 entries, dropping the oldest first', () => {
    const cache = new KvVersionCache();
    for (let v = 1; v <= 2001; v++) cache.set('rotor', 'db/app', read(v, `p${v}`));
    expect(cache.get('rotor', 'db/app', 1)).toBeUndefined();
    expect(cache.get('rotor', 'db/app', 2)?.data.password).toBe('p2');
    expect(cache.get('rotor', 'db/app', 2001)?.data.password).toBe('p2001');
  });
});

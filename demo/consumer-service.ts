import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { VaultClient } from '../vault/vault-client.js';
import { openTargetSession, type TargetKind, type TargetSession } from './target-session.js';

/**
 * A small real service that uses a credential from Vault (PostgreSQL, MySQL, Redis, an access
 * key: demo/target-session.ts): it keeps a session open,
 * reports the version it uses on /health, and reloads a version named by rotor's webhook.
 * It stands in for "your service" in the demo and in tests; it is not part of rotor.
 */
export interface ConsumerServiceOptions {
  name: string;
  vaultAddr: string;
  /** A token that may read this secret only. */
  vaultToken: string;
  mount: string;
  path: string;
  port?: number;
  /** The secret's provider type (default postgres). */
  kind?: TargetKind;
  /** Instead of waiting for a webhook, follow Vault's current version (checked this often). */
  followVaultEveryMs?: number;
  /** Keeps the session busy as an application would: this statement (SQL, or a Redis command line), this often, counting failures. */
  load?: { query: string; everyMs: number };
}

/** What the load loop saw: queries that worked, and those that failed (with the last error). */
export interface LoadStats {
  ok: number;
  failed: number;
  lastError?: string;
}

export interface ConsumerService {
  url: string;
  name: string;
  version(): number;
  /** Makes /health answer 503, as a broken deployment would. */
  setHealthy(healthy: boolean): void;
  /** The next successful reload turns /health unhealthy: a bad deploy that only shows after cutover. */
  failAfterNextReload(): void;
  /** When false, /reload answers 503 and keeps the old version (a consumer that never cuts over). */
  setReloads(accept: boolean): void;
  /** The load loop's counts so far (zeros without `load`). */
  loadStats(): LoadStats;
  close(): Promise<void>;
}

async function openSession(
  vault: VaultClient,
  name: string,
  kind: TargetKind,
  mount: string,
  path: string,
  version?: number,
): Promise<{ session: TargetSession; version: number }> {
  const read = await vault.kvRead<Record<string, string>>(mount, path, version);
  if (!read) throw new Error(`no credential at ${mount}/${path}${version ? ` version ${version}` : ''}`);
  return { session: await openTargetSession(kind, read.data, name), version: read.metadata.version };
}

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  let raw = '';
  for await (const chunk of req) raw += String(chunk);
  return raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
}

function reply(res: ServerResponse, status: number, payload: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
}

export async function startConsumerService(options: ConsumerServiceOptions): Promise<ConsumerService> {
  const vault = new VaultClient(options.vaultAddr, options.vaultToken);
  const kind = options.kind ?? 'postgres';
  let current = await openSession(vault, options.name, kind, options.mount, options.path);
  let healthy = true;
  let acceptReloads = true;
  let failAfterReload = false;

  const server: Server = createServer((req, res) => {
    void (async () => {
      try {
        if (req.method === 'GET' && req.url === '/health') {
          if (!healthy) return reply(res, 503, { status: 'unhealthy', version: current.version });
          await current.session.check();
          return reply(res, 200, { status: 'ok', name: options.name, version: current.version });
        }
        if (req.method === 'POST' && req.url === '/reload') {
          const { version } = await body(req);
          if (!acceptReloads) return reply(res, 503, { error: 'reloads disabled', version: current.version });
          await reload(typeof version === 'number' ? version : undefined);
          return reply(res, 200, { version: current.version });
        }
        reply(res, 404, { error: 'not found' });
      } catch (err) {
        // Never echo driver errors verbatim: they can name the user; the password is never in them.
        reply(res, 500, { error: (err as Error).message.slice(0, 200), version: current.version });
      }
    })();
  });
  const reload = async (version?: number) => {
    const next = await openSession(vault, options.name, kind, options.mount, options.path, version);
    const old = current;
    current = next;
    await old.session.close();
    if (failAfterReload) [healthy, failAfterReload] = [false, false];
  };
  const follower = options.followVaultEveryMs
    ? setInterval(() => {
        void vault
          .kvMetadata(options.mount, options.path)
          .then((meta) => (meta && meta.current_version !== current.version ? reload(meta.current_version) : undefined))
          .catch(() => undefined);
      }, options.followVaultEveryMs)
    : undefined;
  const stats: LoadStats = { ok: 0, failed: 0 };
  const load = options.load;
  let loading = Boolean(load);
  const loadLoop = (async () => {
    while (loading && load) {
      try {
        await current.session.work(load.query);
        stats.ok++;
      } catch (err) {
        stats.failed++;
        stats.lastError = (err as Error).message.slice(0, 200);
      }
      await new Promise((r) => setTimeout(r, load.everyMs));
    }
  })();
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    name: options.name,
    version: () => current.version,
    setHealthy: (value) => void (healthy = value),
    setReloads: (value) => void (acceptReloads = value),
    failAfterNextReload: () => void (failAfterReload = true),
    loadStats: () => ({ ...stats }),
    async close() {
      clearInterval(follower);
      loading = false;
      await loadLoop;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await current.session.close();
    },
  };
}

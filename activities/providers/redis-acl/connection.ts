import { createClient } from 'redis';

/** What rotor uses of a node-redis client: raw commands (no module typings needed) and teardown. */
export interface RedisConnection {
  sendCommand(args: string[]): Promise<unknown>;
  readonly isReady: boolean;
  destroy(): void;
}

export interface RedisEndpoint {
  host: string;
  port: number;
}

/** Seconds rotor waits for a connection or a reply: a stuck target fails the step, which is retried. */
const CONNECT_TIMEOUT_MS = 5_000;
const COMMAND_TIMEOUT_MS = 10_000;

/**
 * A new connection authenticated as `username` (the handshake's HELLO AUTH is the login). No
 * reconnecting: a dropped connection fails its command, and the caller decides. No CLIENT SETINFO:
 * an application user may not be allowed it.
 */
export async function connectAs(endpoint: RedisEndpoint, username: string, password: string): Promise<RedisConnection> {
  const client = createClient({
    socket: { host: endpoint.host, port: endpoint.port, connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: false },
    username,
    password,
    disableClientInfo: true,
    commandOptions: { timeout: COMMAND_TIMEOUT_MS },
  });
  // Errors surface through connect() and each command; the event must not crash the worker.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    client.destroy();
    throw err;
  }
  return client as unknown as RedisConnection;
}

/** Redis's answer to a login with a wrong password or as a disabled/missing user. */
export const isWrongPass = (err: unknown): boolean => err instanceof Error && /^WRONGPASS\b/.test(err.message);

/**
 * The admin user's connection, shared by every activity of a worker (ProviderCaches.pooled):
 * opened on first use and again after it dropped.
 */
export class AdminConnection {
  #client: Promise<RedisConnection> | undefined;

  constructor(
    private readonly endpoint: RedisEndpoint,
    private readonly username: string,
    private readonly password: string,
  ) {}

  async get(): Promise<RedisConnection> {
    const current = this.#client;
    if (current) {
      const known = await current.catch(() => undefined);
      if (known?.isReady) return known;
      if (this.#client !== current) return this.get(); // another caller is opening a new one
      known?.destroy();
    }
    const opening = connectAs(this.endpoint, this.username, this.password);
    this.#client = opening;
    opening.catch(() => {
      if (this.#client === opening) this.#client = undefined;
    });
    return opening;
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    (await client?.catch(() => undefined))?.destroy();
  }
}

import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload } from '@temporalio/common';
import type { Logger } from 'pino';
import { AesGcmCodec } from './codec.js';

/**
 * The codec endpoint the Temporal Web UI calls to show rotor's encrypted payloads
 * (`--ui-codec-endpoint`). Every call must prove it holds the codec access token: as a Bearer
 * header (CLI, scripts) or as the cookie a browser receives once from `/login?token=…` (the UI,
 * with "include cross-origin credentials" on, or on the same origin through stack/ui-gateway.ts).
 * Payloads and the token are never logged: only path, status, count.
 */
export interface CodecHandlerOptions {
  codecKey: string;
  /** The random access token callers must present. */
  token: string;
  /** The Temporal UI's origin(s), the only ones allowed to call from a browser. */
  uiOrigins: readonly string[];
  /** Where the login cookie is sent: `/` for a server of its own, its mount path behind a gateway. */
  cookiePath?: string;
  /**
   * Behind the UI's own origin (stack/ui-gateway.ts): a browser request must come from that very
   * origin (or be typed into the address bar), not merely the same site: other ports of the same
   * host are the same site and must not log a browser in or out.
   */
  sameOriginOnly?: boolean;
  logger: Logger;
}

export interface CodecServerOptions extends Omit<CodecHandlerOptions, 'uiOrigins' | 'cookiePath'> {
  port: number;
  /** The address to bind (default 127.0.0.1; 0.0.0.0 in a container). */
  host?: string;
  /** The Temporal UI's origin, the only one allowed to call from a browser. */
  uiOrigin: string;
}

export interface CodecServer {
  url: string;
  close(): Promise<void>;
}

/** Serves one request; `path` is the request's path below the handler's mount point (`/decode`, ...). */
export type CodecHandler = (req: IncomingMessage, res: ServerResponse, path: string) => void;

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

/** The login cookie's name; a gateway strips it before passing a request on to the UI. */
export const CODEC_COOKIE = 'rotor_codec';

/** The UI decodes a page of history at once; anything far larger is not the UI. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

class HttpRefusal extends Error {
  override name = 'HttpRefusal';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** How long a browser's login lasts: a working day, then /login again. */
export const SESSION_SECONDS = 12 * 3600;

/**
 * The login cookie's value: an expiry and a MAC of it under the token, never the token itself, so a
 * cookie that leaks (cookies ignore ports: any server on this host sees it) decodes for at most
 * SESSION_SECONDS and reveals nothing that lasts.
 */
function sessionValue(token: string, expires: number): string {
  return `${expires}.${createHmac('sha256', token).update(`rotor-codec-session:${expires}`).digest('hex')}`;
}

function validSession(value: string | undefined, token: string, now: number): boolean {
  const m = /^(\d{1,12})\.([0-9a-f]{64})$/.exec(value ?? '');
  if (!m || Number(m[1]) <= now / 1000) return false;
  const expected = Buffer.from(sessionValue(token, Number(m[1])));
  const presented = Buffer.from(value!);
  return expected.length === presented.length && timingSafeEqual(expected, presented);
}

function sameToken(presented: string | undefined, token: string): boolean {
  if (!presented) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(token);
  // Unequal lengths return at once: that reveals the length only, and the token's length is public.
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The token (a Bearer header: CLI, scripts) or the session a browser got from /login (its cookie). */
function presentedToken(req: IncomingMessage): { kind: 'bearer' | 'session'; value: string | undefined } {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return { kind: 'bearer', value: auth.slice('Bearer '.length) };
  const cookie = (req.headers.cookie ?? '')
    .split(';')
    .map((c) => c.trim())
    .find((c) => c.startsWith(`${CODEC_COOKIE}=`));
  return { kind: 'session', value: cookie?.slice(CODEC_COOKIE.length + 1) };
}

/**
 * Whether a browser sent this request from another site (a page elsewhere posting here, or a link
 * to /login or /logout on another site). Clients that are not browsers send neither header.
 */
function crossSite(req: IncomingMessage, uiOrigins: readonly string[], sameOriginOnly: boolean): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || (sameOriginOnly && site !== undefined && site !== 'same-origin' && site !== 'none')) return true;
  const origin = req.headers.origin;
  return origin !== undefined && !uiOrigins.includes(origin);
}

/** The request body, refused past MAX_BODY_BYTES; the rest is drained (not destroyed) so the 413 still reaches the caller. */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
      req.off('data', onData);
      req.resume();
      reject(new HttpRefusal(413, `at most ${MAX_BODY_BYTES} bytes of payloads per request`));
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: p.data === undefined ? undefined : Buffer.from(p.data, 'base64'),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

const text = (res: ServerResponse, status: number, body: string, headers: Record<string, string | string[]> = {}) =>
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers }).end(body);
const json = (res: ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));

/** The codec's routes (`/decode`, `/encode`, `/login`, `/logout`, `/healthz`), to serve alone or mounted in a gateway. */
export function createCodecHandler(options: CodecHandlerOptions): CodecHandler {
  const codec = new AesGcmCodec(options.codecKey);
  const cookiePath = options.cookiePath ?? '/';
  const cookie = (value: string, extra: string) => `${CODEC_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=${cookiePath}${extra}`;
  const cors = (req: IncomingMessage, res: ServerResponse) => {
    const origin = req.headers.origin;
    if (origin === undefined || !options.uiOrigins.includes(origin)) return;
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'content-type, x-namespace, authorization');
    res.setHeader('Vary', 'Origin');
  };
  const handle = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<number> => {
    if (req.method === 'GET' && path === '/healthz') {
      // For probes: says nothing but that the server answers.
      text(res, 200, 'ok\n');
      return 200;
    }
    if (crossSite(req, options.uiOrigins, options.sameOriginOnly ?? false)) {
      text(res, 403, 'cross-site requests are refused\n');
      return 403;
    }
    cors(req, res);
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return 204;
    }
    if (req.method === 'GET' && path === '/login') {
      const url = URL.parse(req.url ?? '/', 'http://codec');
      if (!sameToken(url?.searchParams.get('token') ?? undefined, options.token)) {
        text(res, 401, 'wrong or missing codec token\n');
        return 401;
      }
      // The login URL holds the token: keep it out of Referer headers and caches.
      const expires = Math.floor(Date.now() / 1000) + SESSION_SECONDS;
      text(res, 200, `this browser may now decode rotor payloads in the Temporal UI for ${SESSION_SECONDS / 3600} hours\n`, {
        'set-cookie': cookie(sessionValue(options.token, expires), `; Max-Age=${SESSION_SECONDS}`),
        'referrer-policy': 'no-referrer',
      });
      return 200;
    }
    if (req.method === 'GET' && path === '/logout') {
      // Ends this path's cookie and one a codec server of its own set on `/` for this host (cookies ignore ports).
      const clear = [cookie('', '; Max-Age=0')];
      if (cookiePath !== '/') clear.push(`${CODEC_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
      text(res, 200, 'this browser no longer decodes rotor payloads\n', { 'set-cookie': clear });
      return 200;
    }
    if (req.method !== 'POST' || (path !== '/decode' && path !== '/encode')) {
      res.writeHead(404).end();
      return 404;
    }
    const presented = presentedToken(req);
    const allowed =
      presented.kind === 'bearer' ? sameToken(presented.value, options.token) : validSession(presented.value, options.token, Date.now());
    if (!allowed) {
      json(res, 401, { error: 'codec token required (Bearer header, or the cookie from /login)' });
      return 401;
    }
    const body = JSON.parse((await readBody(req)) || '{}') as { payloads?: JsonPayload[] };
    const payloads = (body.payloads ?? []).map(fromJson);
    const out = path === '/decode' ? await codec.decode(payloads) : await codec.encode(payloads);
    json(res, 200, { payloads: out.map(toJson) });
    return 200;
  };
  return (req, res, path) => {
    // Never the query string: /login's carries the token.
    handle(req, res, path)
      .then((status) => options.logger.debug({ path, status }, 'codec request'))
      .catch((err: unknown) => {
        const status = err instanceof HttpRefusal ? err.status : 400;
        options.logger.warn({ path, status, error: (err as Error).name }, 'codec request failed');
        if (!res.headersSent) json(res, status, { error: err instanceof HttpRefusal ? err.message : 'could not process the payloads' });
      });
  };
}

export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const handler = createCodecHandler({ ...options, uiOrigins: [options.uiOrigin] });
  const server: Server = createServer((req, res) => {
    const path = URL.parse(req.url ?? '/', 'http://codec')?.pathname;
    if (path === undefined) return void res.writeHead(400).end();
    handler(req, res, path);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', resolve);
  });
  const bound = server.address() as AddressInfo;
  return {
    url: `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

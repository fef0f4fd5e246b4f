import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload } from '@temporalio/common';
import type { Logger } from 'pino';
import { AesGcmCodec } from './codec.js';

/**
 * The codec endpoint the Temporal Web UI calls to show rotor's encrypted payloads
 * (`--ui-codec-endpoint`). Every call must prove it holds the codec access token: as a Bearer
 * header (CLI, scripts) or as the cookie a browser receives once from `/login?token=…` (the UI,
 * with "include cross-origin credentials" on). Payloads are never logged: only path, status, count.
 */
export interface CodecServerOptions {
  port: number;
  /** The address to bind (default 127.0.0.1; 0.0.0.0 in a container). */
  host?: string;
  codecKey: string;
  /** The random access token callers must present. */
  token: string;
  /** The Temporal UI's origin, the only one allowed to call from a browser. */
  uiOrigin: string;
  logger: Logger;
}

export interface CodecServer {
  url: string;
  close(): Promise<void>;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const COOKIE = 'rotor_codec';

function sameToken(presented: string | undefined, token: string): boolean {
  if (!presented) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function presentedToken(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice('Bearer '.length);
  const cookie = (req.headers.cookie ?? '')
    .split(';')
    .map((c) => c.trim())
    .find((c) => c.startsWith(`${COOKIE}=`));
  return cookie ? decodeURIComponent(cookie.slice(COOKIE.length + 1)) : undefined;
}

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: p.data === undefined ? undefined : Buffer.from(p.data, 'base64'),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const codec = new AesGcmCodec(options.codecKey);
  const cors = (req: IncomingMessage, res: ServerResponse) => {
    if (req.headers.origin !== options.uiOrigin) return;
    res.setHeader('Access-Control-Allow-Origin', options.uiOrigin);
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'content-type, x-namespace, authorization');
    res.setHeader('Vary', 'Origin');
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    cors(req, res);
    const url = new URL(req.url ?? '/', 'http://codec');
    if (req.method === 'OPTIONS') {
      res.writeHead(req.headers.origin === options.uiOrigin ? 204 : 403).end();
      return res.statusCode;
    }
    if (req.method === 'GET' && url.pathname === '/healthz') {
      // For probes: says nothing but that the server answers.
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return 200;
    }
    if (req.method === 'GET' && url.pathname === '/login') {
      if (!sameToken(url.searchParams.get('token') ?? undefined, options.token)) {
        res.writeHead(401, { 'content-type': 'text/plain' }).end('wrong or missing codec token\n');
        return 401;
      }
      res.writeHead(200, {
        'content-type': 'text/plain',
        'set-cookie': `${COOKIE}=${encodeURIComponent(options.token)}; HttpOnly; SameSite=Strict; Path=/`,
      });
      res.end('this browser may now decode rotor payloads in the Temporal UI\n');
      return 200;
    }
    if (req.method !== 'POST' || (url.pathname !== '/decode' && url.pathname !== '/encode')) {
      res.writeHead(404).end();
      return 404;
    }
    if (!sameToken(presentedToken(req), options.token)) {
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: 'codec token required (Bearer header, or the cookie from /login)' }));
      return 401;
    }
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    const body = JSON.parse(raw || '{}') as { payloads?: JsonPayload[] };
    const payloads = (body.payloads ?? []).map(fromJson);
    const out = url.pathname === '/decode' ? await codec.decode(payloads) : await codec.encode(payloads);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ payloads: out.map(toJson) }));
    return 200;
  };
  const server: Server = createServer((req, res) => {
    handle(req, res)
      .then((status) => options.logger.debug({ path: req.url?.split('?')[0], status }, 'codec request'))
      .catch((err: unknown) => {
        options.logger.warn({ path: req.url?.split('?')[0], error: (err as Error).name }, 'codec request failed');
        if (!res.headersSent)
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'could not process the payloads' }));
      });
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

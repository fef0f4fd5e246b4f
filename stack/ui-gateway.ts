import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { CODEC_COOKIE, createCodecHandler } from '../workers/codec-server.js';

/**
 * The local stack's Temporal Web UI address: passes everything to the dev server's UI (on a
 * private port) and serves rotor's codec under {@link UI_CODEC_PATH} on the same origin. The UI
 * 2.42 bundled with the dev server sends cookies only to a codec on its own origin (a fetch without
 * `credentials: include`), so this is how a browser that visited the codec's /login sees decoded
 * payloads, and one that did not gets 401 from the codec and sees encrypted bytes.
 *
 * The UI 2.42 talks to its server with plain fetches (no WebSocket or EventSource), so there is no
 * Upgrade handling; responses are piped as they arrive, never buffered.
 */
export const UI_CODEC_PATH = '/rotor-codec';

export interface UiGatewayOptions {
  port: number;
  host?: string;
  /** Where the dev server's own UI listens (a loopback port nobody else is told about). */
  upstream: { host: string; port: number };
  codecKey: string;
  token: string;
  logger: Logger;
}

export interface UiGateway {
  url: string;
  close(): Promise<void>;
}

// Hop-by-hop headers describe one connection, not the request: never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** The request's headers for the UI: hop-by-hop ones, the codec's cookie and any Authorization (a codec token sent to the wrong path) removed. */
function upstreamHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const named = new Set((headers.connection ?? '').split(',').map((h) => h.trim().toLowerCase()));
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name) || name === 'authorization') continue;
    out[name] = value;
  }
  const cookies = (headers.cookie ?? '')
    .split(';')
    .map((c) => c.trim())
    .filter((c) => c && !c.startsWith(`${CODEC_COOKIE}=`));
  if (cookies.length) out.cookie = cookies.join('; ');
  else delete out.cookie;
  return out;
}

function responseHeaders(upstream: IncomingMessage): Record<string, string | string[]> {
  const named = new Set((upstream.headers.connection ?? '').split(',').map((h) => h.trim().toLowerCase()));
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(upstream.headers))
    if (value !== undefined && !HOP_BY_HOP.has(name) && !named.has(name)) out[name] = value;
  return out;
}

/** Longer than any request of the UI's (it polls with plain fetches, no long-lived streams). */
const UPSTREAM_IDLE_MS = 120_000;

const isCodecPath = (path: string) => path === UI_CODEC_PATH || path.startsWith(`${UI_CODEC_PATH}/`);

export async function startUiGateway(options: UiGatewayOptions): Promise<UiGateway> {
  const host = options.host ?? '127.0.0.1';
  const { upstream, logger } = options;
  // The names a browser on this machine reaches the gateway by; any other Origin is another site.
  const uiOrigins = [`http://127.0.0.1:${options.port}`, `http://localhost:${options.port}`];
  const codec = createCodecHandler({
    codecKey: options.codecKey,
    token: options.token,
    uiOrigins,
    cookiePath: UI_CODEC_PATH,
    sameOriginOnly: true,
    logger,
  });
  // A page on another site whose name was re-pointed at 127.0.0.1 (DNS rebinding) is same-origin
  // with whatever it reaches; it still sends its own name as Host, which is refused here.
  const hosts = new Set(uiOrigins.map((o) => new URL(o).host));

  const proxy = (req: IncomingMessage, res: ServerResponse) => {
    const out = request(
      { host: upstream.host, port: upstream.port, method: req.method, path: req.url, headers: upstreamHeaders(req.headers) },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, responseHeaders(answer));
        // Piped, not buffered: a long response reaches the browser as it comes.
        answer.pipe(res);
        answer.once('error', () => res.destroy());
      },
    );
    // A UI server that stops answering must not hold browser connections open for ever.
    out.setTimeout(UPSTREAM_IDLE_MS, () => out.destroy(new Error(`no answer for ${UPSTREAM_IDLE_MS / 1000} s`)));
    out.once('error', (err) => {
      logger.warn({ path: req.url?.split('?')[0], error: err.message }, 'Temporal UI unreachable');
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('the Temporal UI is not answering\n');
      else res.destroy();
    });
    // A browser that goes away mid-response must not leave the upstream request running.
    res.once('close', () => {
      if (!res.writableFinished) out.destroy();
    });
    req.pipe(out);
  };

  const gateway: Server = createServer((req, res) => {
    if (!hosts.has(req.headers.host ?? '')) {
      return void res
        .writeHead(421, { 'content-type': 'text/plain' })
        .end(`this address serves the Temporal UI as ${[...hosts].join(' or ')} only\n`);
    }
    const path = URL.parse(req.url ?? '/', 'http://gateway')?.pathname;
    if (path === undefined) return void res.writeHead(400).end();
    if (isCodecPath(path)) return codec(req, res, path.slice(UI_CODEC_PATH.length) || '/');
    proxy(req, res);
  });
  // The UI keeps connections open between polls: close() must not wait for them.
  const sockets = new Set<Duplex>();
  gateway.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    gateway.once('error', reject);
    gateway.listen(options.port, host, resolve);
  });
  const bound = gateway.address() as AddressInfo;
  return {
    url: `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        gateway.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

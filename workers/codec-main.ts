import { z } from 'zod';
import { listenAddress, parseListenAddress } from '../config/listen-address.js';
import { startCodecServer } from './codec-server.js';
import { createLogger } from './logger.js';

/**
 * The codec server on its own (`npm run codec`; compose and the Helm chart run it from the worker
 * image): decodes rotor's payloads for the Temporal UI, for callers holding the codec token.
 */
const settings = z.object({
  ROTOR_CODEC_KEY: z.string().min(1, 'the payload codec key (the same as the workers)'),
  ROTOR_CODEC_TOKEN: z.string().min(16, 'the token callers present, at least 16 characters (openssl rand -hex 24)'),
  ROTOR_CODEC_LISTEN: listenAddress('ROTOR_CODEC_LISTEN', '0.0.0.0:8288').default('127.0.0.1:8288'),
  ROTOR_CODEC_UI_ORIGIN: z.url({ error: "the Temporal UI's origin, e.g. http://127.0.0.1:8080" }),
  ROTOR_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
});

async function main(): Promise<void> {
  // From the first instant: as PID 1 in a container a signal without a handler is dropped.
  const running: { close?: () => Promise<void> } = {};
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void (running.close?.() ?? Promise.resolve()).then(() => process.exit(0)));
  const parsed = settings.safeParse(process.env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) process.stderr.write(`${issue.path.join('.')}: ${issue.message}\n`);
    process.exit(1);
  }
  const env = parsed.data;
  const logger = createLogger(env.ROTOR_LOG_LEVEL);
  const { host, port } = parseListenAddress(env.ROTOR_CODEC_LISTEN);
  const server = await startCodecServer({
    host,
    port,
    codecKey: env.ROTOR_CODEC_KEY,
    token: env.ROTOR_CODEC_TOKEN,
    uiOrigin: new URL(env.ROTOR_CODEC_UI_ORIGIN).origin,
    logger,
  });
  logger.info({ url: server.url }, 'codec server listening (POST /decode, /encode; GET /healthz)');
  running.close = () => server.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`rotor codec server failed: ${(err as Error).message}\n`);
  process.exit(1);
});

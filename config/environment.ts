import { z } from 'zod';
import { parseDuration } from './duration.js';
import { ipListenAddress, listenAddress } from './listen-address.js';

/** An optional setting; empty counts as unset, as docker-compose passes `${VAR:-}` for one left out of .env. */
const optional = (setting: z.ZodString) => z.preprocess((v) => (v === '' ? undefined : v), setting.optional());

/** The TLS variables that mean nothing unless ROTOR_TEMPORAL_TLS=true. */
const TEMPORAL_TLS_SETTINGS = [
  'ROTOR_TEMPORAL_TLS_CA_FILE',
  'ROTOR_TEMPORAL_TLS_CERT_FILE',
  'ROTOR_TEMPORAL_TLS_KEY_FILE',
  'ROTOR_TEMPORAL_TLS_SERVER_NAME',
] as const;

/**
 * Everything a worker or CLI needs to reach the stack, read from ROTOR_* environment variables.
 * The same module serves `npm start`, the tests and docker-compose.
 */
const fields = z.object({
  ROTOR_TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  ROTOR_TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** TLS to the Temporal frontend (config/temporal-connection.ts reads the files). */
  ROTOR_TEMPORAL_TLS: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.enum(['true', 'false'], { error: 'must be "true" or "false"' }).default('false'),
  ),
  /** PEM CA bundle that signed Temporal's server certificate; unset: the system's trusted CAs. */
  ROTOR_TEMPORAL_TLS_CA_FILE: optional(z.string()),
  /** mTLS: the worker's client certificate and its key (PEM), both or neither. */
  ROTOR_TEMPORAL_TLS_CERT_FILE: optional(z.string()),
  ROTOR_TEMPORAL_TLS_KEY_FILE: optional(z.string()),
  /** The name Temporal's certificate is checked against when it is not the host of ROTOR_TEMPORAL_ADDRESS. */
  ROTOR_TEMPORAL_TLS_SERVER_NAME: optional(z.string()),
  ROTOR_TASK_QUEUE: z.string().min(1).default('rotor'),
  ROTOR_VAULT_ADDR: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://127.0.0.1:8200' }),
  ROTOR_VAULT_ROLE_ID: z.string().min(1, 'the worker AppRole role_id is required'),
  ROTOR_VAULT_SECRET_ID: z.string().min(1, 'the worker AppRole secret_id is required'),
  ROTOR_VAULT_KV_MOUNT: z.string().min(1).default('rotor'),
  ROTOR_DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL to rotor's own database"),
  ROTOR_CODEC_KEY: z
    .string()
    // Node's base64 decoder skips junk, so a 43-letter passphrase would pass a length check alone.
    .refine(
      (v) => /^[A-Za-z0-9+/]{43}=$/.test(v) && Buffer.from(v, 'base64').length === 32,
      'must be 32 random bytes, base64-encoded (openssl rand -base64 32)',
    ),
  ROTOR_INVENTORY: z.string().min(1).default('config/inventory.example.yaml'),
  ROTOR_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
  /** Reconcile Temporal Schedules with the inventory when a worker starts. */
  ROTOR_RECONCILE_SCHEDULES: z.enum(['true', 'false'], { error: 'must be "true" or "false"' }).default('true'),
  ROTOR_CODEC_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /**
   * `host:port` where the worker serves GET /livez and /readyz (Kubernetes probes, compose
   * healthchecks); unset: no health server.
   */
  ROTOR_HEALTH_LISTEN: optional(listenAddress('ROTOR_HEALTH_LISTEN', '0.0.0.0:8081')),
  /** `ip:port` where the worker serves rotor's and the Temporal SDK's Prometheus metrics at /metrics; unset: none. */
  ROTOR_METRICS_LISTEN: optional(ipListenAddress('ROTOR_METRICS_LISTEN', '0.0.0.0:9464')),
  /**
   * After SIGTERM/SIGINT the worker stops polling and lets in-flight activities finish for this
   * long before cancelling them ("30s", "2m"); a supervisor's grace period must be longer.
   */
  ROTOR_SHUTDOWN_GRACE: z
    .string()
    .default('30s')
    .refine((v) => parseDuration(v) !== undefined, 'must be a duration such as "30s" or "2m"'),
  /**
   * Who rotor trusts to say who a person is: Vault identity tokens of this audience (the client_id
   * of identity/oidc/role/rotor) signed by this issuer. Unset: every identity-bearing request is refused.
   */
  ROTOR_IDENTITY_AUDIENCE: optional(z.string().min(1)),
  /** Default: <ROTOR_VAULT_ADDR>/v1/identity/oidc (set when Vault's issuer is configured otherwise). */
  ROTOR_IDENTITY_ISSUER: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.url({ protocol: /^https?$/, error: 'must be the http(s) issuer URL of Vault identity tokens' }).optional(),
  ),
});

// A TLS setting with TLS off would silently connect in plaintext, and a certificate without its
// key cannot be presented: both are refused at start rather than found at the first handshake.
const schema = fields.superRefine((env, ctx) => {
  if (env.ROTOR_TEMPORAL_TLS !== 'true') {
    for (const key of TEMPORAL_TLS_SETTINGS)
      if (env[key] !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'is set but ROTOR_TEMPORAL_TLS is not "true"; set ROTOR_TEMPORAL_TLS=true or unset it',
        });
  }
  const cert = env.ROTOR_TEMPORAL_TLS_CERT_FILE !== undefined;
  const key = env.ROTOR_TEMPORAL_TLS_KEY_FILE !== undefined;
  if (cert !== key) {
    const [missing, present] = cert
      ? (['ROTOR_TEMPORAL_TLS_KEY_FILE', 'ROTOR_TEMPORAL_TLS_CERT_FILE'] as const)
      : (['ROTOR_TEMPORAL_TLS_CERT_FILE', 'ROTOR_TEMPORAL_TLS_KEY_FILE'] as const);
    ctx.addIssue({
      code: 'custom',
      path: [missing],
      message: `mTLS needs the client certificate and its key: ${present} is set, so set ${missing} too, or unset both`,
    });
  }
});

export type Environment = z.infer<typeof schema>;

export class EnvironmentError extends Error {
  constructor(readonly issues: string[]) {
    super(`rotor configuration is invalid:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'EnvironmentError';
  }
}

export function loadEnvironment(env: NodeJS.ProcessEnv = process.env): Environment {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new EnvironmentError(
      parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}${env[String(i.path[0])] === undefined ? ' (not set)' : ''}`),
    );
  }
  return parsed.data;
}

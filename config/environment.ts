import { z } from 'zod';

/**
 * Everything a worker or CLI needs to reach the stack, read from ROTOR_* environment variables.
 * The same module serves `npm start`, the tests and docker-compose.
 */
const schema = z.object({
  ROTOR_TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  ROTOR_TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
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

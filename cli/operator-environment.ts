import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { REPO_ROOT } from '../config/repo-root.js';
import { CliError } from './cli-error.js';

/**
 * What an operator's CLI needs: where Temporal and Vault are, and the person's own Vault token.
 * Never the worker's AppRole secret ID, the codec key or rotor's database password: the codec key
 * and a read-only audit login come from Vault, through the operator's own policy.
 */
const schema = z.object({
  ROTOR_TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  ROTOR_TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  ROTOR_TEMPORAL_TLS: z.enum(['true', 'false'], { error: 'must be "true" or "false"' }).default('false'),
  ROTOR_TEMPORAL_TLS_CA_FILE: z.string().optional(),
  ROTOR_TEMPORAL_TLS_CERT_FILE: z.string().optional(),
  ROTOR_TEMPORAL_TLS_KEY_FILE: z.string().optional(),
  ROTOR_TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  ROTOR_TASK_QUEUE: z.string().min(1).default('rotor'),
  ROTOR_VAULT_ADDR: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://127.0.0.1:8200' }),
  ROTOR_VAULT_KV_MOUNT: z.string().min(1).default('rotor'),
  ROTOR_INVENTORY: z.string().min(1).default('config/inventory.example.yaml'),
  /** The operator's own Vault token; unset: the one `rotor login` saved in ROTOR_TOKEN_FILE. */
  ROTOR_VAULT_TOKEN: z.string().min(1).optional(),
  ROTOR_TOKEN_FILE: z
    .string()
    .min(1)
    .default(join(homedir(), '.config', 'rotor', 'token')),
  /** Where rotor's database is (host:port/dbname, no credentials): see cli/operator-database.ts. */
  ROTOR_AUDIT_DATABASE: z.string().min(1).optional(),
  /** The login method `rotor login` uses (the auth mount's path). */
  ROTOR_AUTH_MOUNT: z.string().min(1).default('userpass'),
});

export type OperatorEnvironment = z.infer<typeof schema>;

/** The local stack's stack.json (`npm start`), when no ROTOR_VAULT_ADDR is exported. */
export function localStackFile(): string {
  return process.env.ROTOR_STATE_DIR ? join(process.env.ROTOR_STATE_DIR, 'stack.json') : join(REPO_ROOT, '.rotor', 'local', 'stack.json');
}

/**
 * ROTOR_* variables when set; otherwise the running local stack's addresses, so `npx rotor …`
 * works next to `npm start` after `rotor login`.
 */
export function operatorEnvironment(env: NodeJS.ProcessEnv = process.env): OperatorEnvironment {
  const file = localStackFile();
  const fromStack =
    !env.ROTOR_VAULT_ADDR && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { env: Record<string, string> }).env : {};
  const parsed = schema.safeParse({ ...fromStack, ...env });
  if (!parsed.success)
    throw new CliError(
      `rotor configuration is invalid:\n${parsed.error.issues.map((i) => `  - ${i.path.join('.')}: ${i.message}`).join('\n')}`,
      "start the local stack with 'npm start' in another terminal, or export the ROTOR_* variables of your deployment",
    );
  return parsed.data;
}

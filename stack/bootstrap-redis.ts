import { passwordHash } from '../activities/providers/redis-acl/acl.js';
import { connectAs } from '../activities/providers/redis-acl/connection.js';
import { VaultClient } from '../vault/vault-client.js';
import { demoAdminCredential } from './demo-admin-credential.js';
import type { RedisServer } from './redis-server.js';

/** Where the demo Redis target's admin credential lives in Vault; the redis-acl provider reads it from there. */
export const DEMO_REDIS_ADMIN_PATH = '_rotor/admin/demo-redis';

export const DEMO_REDIS_ADMIN_USER = 'rotor-admin';

/**
 * Exactly what the redis-acl provider runs as admin: read and change ACL users and persist them,
 * list and kill clients (observed cutover, emergency revocation), and find its own connection in
 * CLIENT LIST. No keys, no channels.
 */
export const REDIS_ADMIN_RULES = [
  'resetkeys',
  'resetchannels',
  'nocommands',
  'clearselectors',
  '+acl|getuser',
  '+acl|setuser',
  '+acl|save',
  '+client|list',
  '+client|kill',
  '+client|id',
];

/**
 * The admin ACL user the redis-acl provider uses, whose password is stored only in Vault (written
 * there before Redis learns it; reused on re-runs). Idempotent: a re-run resets the user to
 * exactly REDIS_ADMIN_RULES and that password, and rewrites the Vault credential when where Redis
 * listens changed (ROTOR_REDIS_PORT), keeping the password.
 */
export async function bootstrapRedis(server: RedisServer, vaultAddress: string, rootToken: string): Promise<void> {
  const vault = new VaultClient(vaultAddress, rootToken);
  const credential = await demoAdminCredential(vault, DEMO_REDIS_ADMIN_PATH, {
    username: DEMO_REDIS_ADMIN_USER,
    host: server.host,
    port: server.port,
  });
  const password = credential.password;
  const redis = await connectAs({ host: server.host, port: server.port }, 'default', server.defaultPassword);
  try {
    // One SETUSER (all modifiers or none); the hash, never the password, reaches Redis.
    await redis.sendCommand(['ACL', 'SETUSER', DEMO_REDIS_ADMIN_USER, 'reset', 'on', `#${passwordHash(password)}`, ...REDIS_ADMIN_RULES]);
    await redis.sendCommand(['ACL', 'SAVE']);
  } finally {
    redis.destroy();
  }
}

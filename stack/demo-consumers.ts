import { VaultClient } from '../vault/vault-client.js';
import type { Inventory } from '../config/inventory-schema.js';
import { startConsumerService, type ConsumerService } from '../demo/consumer-service.js';
import { TARGET_KINDS } from '../demo/target-session.js';
import { StackError } from './stack-error.js';
import type { Stack } from './up.js';

/**
 * For the demo: every consumer of the inventory whose health URL is on 127.0.0.1 gets a real
 * demo service on that port, holding a read-only token for its one secret. Health-mode
 * consumers follow Vault by themselves; webhook-mode ones reload when rotor calls them.
 */
export async function startDemoConsumers(stack: Stack, inventory: Inventory): Promise<ConsumerService[]> {
  const root = new VaultClient(stack.env.ROTOR_VAULT_ADDR!, stack.vaultRootToken);
  const started: ConsumerService[] = [];
  try {
    for (const secret of inventory.secrets) {
      const local = secret.consumers.filter((c) => c.healthUrl && new URL(c.healthUrl).hostname === '127.0.0.1');
      const kind = TARGET_KINDS.find((k) => k === secret.provider.type);
      if (!local.length || !kind) continue;
      const policy = `demo-consumer-${secret.id}`;
      await root.putPolicy(
        policy,
        `path "rotor/data/${secret.path}" { capabilities = ["read"] }\npath "rotor/metadata/${secret.path}" { capabilities = ["read"] }`,
      );
      for (const c of local) {
        const token = (
          await root.request<{ auth: { client_token: string } }>('POST', 'auth/token/create', {
            policies: [policy],
            ttl: '768h',
            renewable: true,
          })
        ).auth.client_token;
        const port = Number(new URL(c.healthUrl!).port);
        try {
          started.push(
            await startConsumerService({
              name: c.name,
              vaultAddr: stack.env.ROTOR_VAULT_ADDR!,
              vaultToken: token,
              mount: 'rotor',
              path: secret.path,
              port,
              kind,
              // Health and observed (sessions) consumers move to a new version by themselves.
              followVaultEveryMs: ['health', 'sessions', 'pg-sessions'].includes(c.confirm.mode) ? 1000 : undefined,
            }),
          );
        } catch (err) {
          throw new StackError(
            `demo consumer "${c.name}" could not start on port ${port}: ${(err as Error).message}`,
            `free port ${port} or change the consumer's URLs in ${stack.env.ROTOR_INVENTORY}`,
          );
        }
      }
    }
  } catch (err) {
    for (const s of started) await s.close();
    throw err;
  }
  return started;
}

import { ApplicationFailure } from '@temporalio/common';
import type { SecretSpec } from '../../config/inventory-schema.js';
import type { ActivityContext } from '../activity-context.js';
import { secretSpec } from '../inventory-cache.js';
import { providerFor } from '../providers/provider-for.js';
import type { Credential, Provider } from '../providers/provider.js';
import type { KvRead } from '../../vault/vault-client.js';

export function pendingPath(secretId: string, rotationId: string): string {
  return `_rotor/pending/${secretId}/${rotationId}`;
}

const usable = (read: KvRead<Credential>) => !read.metadata.deletion_time && !read.metadata.destroyed;

/**
 * A KV version (or the current one) of `path`, through this worker's version cache: a version
 * read before comes from the cache unless `fresh`; a usable one read from Vault is cached.
 */
export async function readKvVersion(
  ctx: ActivityContext,
  path: string,
  version?: number,
  { fresh = false }: { fresh?: boolean } = {},
): Promise<KvRead<Credential> | undefined> {
  const mount = ctx.env.ROTOR_VAULT_KV_MOUNT;
  const cached = version && !fresh ? ctx.kvCache.get(mount, path, version) : undefined;
  if (cached) return cached;
  const found = await ctx.vault.run((v) => v.kvRead<Credential>(mount, path, version));
  if (found && usable(found)) ctx.kvCache.set(mount, path, found);
  return found;
}

/** One secret's inventory entry, its provider, and typed access to its KV versions. */
export interface SecretHandle {
  spec: SecretSpec;
  provider: Provider;
  mount: string;
  /**
   * The version, or the current one; fails non-retryably when it is deleted or destroyed. A version
   * this worker read before comes from its cache unless `fresh` (a rollback re-checks deletion).
   */
  read(version?: number, options?: { fresh?: boolean }): Promise<KvRead<Credential>>;
  currentVersion(): Promise<number>;
}

export async function openSecret(ctx: ActivityContext, secretId: string): Promise<SecretHandle> {
  const spec = await secretSpec(ctx.env.ROTOR_INVENTORY, secretId);
  const provider = await providerFor(ctx, spec);
  const mount = ctx.env.ROTOR_VAULT_KV_MOUNT;
  return {
    spec,
    provider,
    mount,
    async read(version, { fresh = false } = {}) {
      const found = await readKvVersion(ctx, spec.path, version, { fresh });
      if (!found || !usable(found)) {
        const which = version ? `version ${version}` : 'the current version';
        throw ApplicationFailure.nonRetryable(`${which} of ${mount}/${spec.path} is missing, deleted or destroyed`, 'VersionUnavailable');
      }
      return found;
    },
    async currentVersion() {
      const meta = await ctx.vault.run((v) => v.kvMetadata(mount, spec.path));
      if (!meta || meta.current_version === 0) {
        throw ApplicationFailure.nonRetryable(
          `${mount}/${spec.path} has no version yet: seed it first (rotor seed ${secretId})`,
          'SecretNotSeeded',
        );
      }
      return meta.current_version;
    },
  };
}

/** Runs `op` with the handle and always closes the provider's connections. */
export async function withSecret<T>(ctx: ActivityContext, secretId: string, op: (h: SecretHandle) => Promise<T>): Promise<T> {
  const handle = await openSecret(ctx, secretId);
  try {
    return await op(handle);
  } finally {
    await handle.provider.close();
  }
}

import { ApplicationFailure } from '@temporalio/common';
import type { SecretSpec } from '../../config/inventory-schema.js';
import type { VaultRunner } from '../../vault/secret-session.js';
import type { KvRead } from '../../vault/vault-client.js';
import { FailureType } from '../../workflows/failure-types.js';
import type { ActivityContext } from '../activity-context.js';
import { parseCredential } from '../providers/parse-credential.js';
import type { Credential, Provider, ProviderDefinition } from '../providers/provider.js';
import { definitionOf } from '../providers/registry.js';
import type { CredentialOf, ProviderSpecOf, ProviderType } from '../providers/schemas.js';
import { promotionOf, type Promotion } from './secret-metadata.js';

export function pendingPath(secretId: string, rotationId: string): string {
  return `_rotor/pending/${secretId}/${rotationId}`;
}

const usable = (read: KvRead<Credential>) => !read.metadata.deletion_time && !read.metadata.destroyed;

/**
 * A KV version (or the current one) of `path`, a path of secret `secretId` (its own or its staged
 * credentials), through this worker's version cache: a version read before comes from the cache
 * unless `fresh`; a usable one read from Vault (with the secret's own token) is cached.
 */
export async function readKvVersion(
  ctx: ActivityContext,
  secretId: string,
  path: string,
  version?: number,
  { fresh = false }: { fresh?: boolean } = {},
): Promise<KvRead<Credential> | undefined> {
  const mount = ctx.env.ROTOR_VAULT_KV_MOUNT;
  const cached = version && !fresh ? ctx.kvCache.get(mount, path, version) : undefined;
  if (cached) return cached;
  const found = await ctx.vault.forSecret(secretId).run((v) => v.kvRead<Credential>(mount, path, version));
  if (found && usable(found)) ctx.kvCache.set(mount, path, found);
  return found;
}

/**
 * One secret's inventory entry, its provider, and its KV versions as credentials of that provider:
 * every credential read through the handle is parsed with the provider's credential schema here,
 * once, so providers get typed fields (a missing one fails the step, naming the field, never a value).
 */
export interface SecretHandle<C extends Credential = Credential> {
  spec: SecretSpec;
  provider: Provider<C>;
  mount: string;
  /** Vault for requests about this secret: a token holding only its policy (vault/vault-session.ts). */
  vault: VaultRunner;
  /**
   * The version, or the current one; fails non-retryably when it is deleted or destroyed. A version
   * this worker read before comes from its cache unless `fresh` (a rollback re-checks deletion).
   */
  read(version?: number, options?: { fresh?: boolean }): Promise<KvRead<C>>;
  /** The staged credential of one rotation, if it was written (it lives at its pending path, always version 1). */
  readStaged(rotationId: string): Promise<C | undefined>;
  currentVersion(): Promise<number>;
  /** The current version and, when a rotation's promotion made it current, that promotion (one metadata read). */
  current(): Promise<{ version: number; promotion?: Promotion }>;
}

function handleFor<T extends ProviderType>(
  ctx: ActivityContext,
  spec: SecretSpec,
  definition: ProviderDefinition<T>,
  provider: Provider<CredentialOf<T>>,
): SecretHandle<CredentialOf<T>> {
  const mount = ctx.env.ROTOR_VAULT_KV_MOUNT;
  const parse = (data: Credential, where: string): CredentialOf<T> => parseCredential(definition.credential, data, where);
  const vault = ctx.vault.forSecret(spec.id);
  return {
    spec,
    provider,
    mount,
    vault,
    async read(version, { fresh = false } = {}) {
      const found = await readKvVersion(ctx, spec.id, spec.path, version, { fresh });
      if (!found || !usable(found)) {
        const which = version ? `version ${version}` : 'the current version';
        throw ApplicationFailure.nonRetryable(
          `${which} of ${mount}/${spec.path} is missing, deleted or destroyed`,
          FailureType.VersionUnavailable,
        );
      }
      return { ...found, data: parse(found.data, `version ${found.metadata.version} of ${mount}/${spec.path}`) };
    },
    async readStaged(rotationId) {
      const path = pendingPath(spec.id, rotationId);
      const found = await readKvVersion(ctx, spec.id, path, 1);
      return found && parse(found.data, `${mount}/${path}`);
    },
    async currentVersion() {
      return (await this.current()).version;
    },
    async current() {
      const meta = await vault.run((v) => v.kvMetadata(mount, spec.path));
      if (!meta || meta.current_version === 0) {
        throw ApplicationFailure.nonRetryable(
          `${mount}/${spec.path} has no version yet: seed it first (rotor seed ${spec.id})`,
          FailureType.SecretNotSeeded,
        );
      }
      const promotion = promotionOf(meta);
      return promotion ? { version: meta.current_version, promotion } : { version: meta.current_version };
    },
  };
}

/** The handle of a secret whose provider is of type `T`: its provider comes from the registry. */
async function openWith<T extends ProviderType>(
  ctx: ActivityContext,
  spec: SecretSpec,
  provider: ProviderSpecOf<T> & { type: T },
): Promise<SecretHandle<CredentialOf<T>>> {
  const definition = definitionOf(provider.type);
  return handleFor(ctx, spec, definition, await definition.create(ctx, provider, spec.id));
}

export async function openSecret(ctx: ActivityContext, secretId: string): Promise<SecretHandle<CredentialOf<ProviderType>>> {
  const spec = await ctx.inventory.secret(secretId);
  return openWith(ctx, spec, spec.provider);
}

/**
 * Runs `op` with the handle and always closes the provider's connections. `op` is generic over
 * the credential type, so it can only hand a provider credentials read through its own handle.
 */
export async function withSecret<T>(
  ctx: ActivityContext,
  secretId: string,
  op: <C extends Credential>(h: SecretHandle<C>) => Promise<T>,
): Promise<T> {
  const handle = await openSecret(ctx, secretId);
  try {
    return await op(handle);
  } finally {
    await handle.provider.close();
  }
}

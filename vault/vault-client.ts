import nodeVault from 'node-vault';
import { VaultRequestError } from './vault-error.js';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'LIST';

export interface KvVersionMetadata {
  version: number;
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
}

export interface KvRead<T> {
  data: T;
  metadata: KvVersionMetadata & { custom_metadata: Record<string, string> | null };
}

export interface KvMetadata {
  current_version: number;
  oldest_version: number;
  custom_metadata: Record<string, string> | null;
  versions: Record<string, KvVersionMetadata>;
}

export interface Lease {
  lease_id: string;
  lease_duration: number;
  renewable: boolean;
}

/**
 * The one typed wrapper around node-vault's generic `request`: node-vault has no KV v2 API and
 * its types are `any`. Every error is converted to a {@link VaultRequestError} without headers.
 */
export class VaultClient {
  private readonly client: nodeVault.client;

  constructor(
    readonly endpoint: string,
    token?: string,
  ) {
    this.client = nodeVault({ apiVersion: 'v1', endpoint, token, requestOptions: { timeout: 15_000 } });
  }

  get token(): string | undefined {
    return this.client.token as string | undefined;
  }

  set token(value: string | undefined) {
    this.client.token = value ?? '';
  }

  async request<T = unknown>(method: Method, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    try {
      return (await this.client.request({ method, path: `/${path}`, json: body, headers })) as T;
    } catch (err) {
      const response = (err as { response?: { statusCode?: number; body?: { errors?: unknown } } }).response;
      const errors = Array.isArray(response?.body?.errors) ? response.body.errors.map(String) : [];
      const fallback = response ? [] : [(err as Error).message?.replace(/token[^,\s]*/gi, '[redacted]') ?? 'request failed'];
      throw new VaultRequestError(method, path.split('?')[0] ?? path, response?.statusCode, errors.length ? errors : fallback);
    }
  }

  // --- sys ---
  health(): Promise<{ initialized: boolean; sealed: boolean; standby: boolean; version: string }> {
    // sys/health answers non-200 when sealed; node-vault resolves those instead of rejecting.
    return this.request('GET', 'sys/health?standbyok=true&sealedcode=200&uninitcode=200');
  }

  init(shares = 1, threshold = 1): Promise<{ keys_base64: string[]; root_token: string }> {
    return this.request('PUT', 'sys/init', { secret_shares: shares, secret_threshold: threshold });
  }

  unseal(key: string): Promise<{ sealed: boolean }> {
    return this.request('PUT', 'sys/unseal', { key });
  }

  async mounts(): Promise<Record<string, { type: string }>> {
    const body = await this.request<{ data?: Record<string, { type: string }> } & Record<string, unknown>>('GET', 'sys/mounts');
    return (body.data ?? body) as Record<string, { type: string }>;
  }

  async enableEngine(path: string, type: string, options: Record<string, string> = {}): Promise<void> {
    await this.request('POST', `sys/mounts/${path}`, { type, options });
  }

  async enableAuth(path: string, type: string): Promise<void> {
    await this.request('POST', `sys/auth/${path}`, { type });
  }

  async auths(): Promise<Record<string, { type: string }>> {
    const body = await this.request<{ data?: Record<string, { type: string }> }>('GET', 'sys/auth');
    return (body.data ?? body) as Record<string, { type: string }>;
  }

  async audits(): Promise<Record<string, { type: string }>> {
    const body = await this.request<{ data?: Record<string, { type: string }> }>('GET', 'sys/audit');
    return (body.data ?? body) as Record<string, { type: string }>;
  }

  async enableFileAudit(name: string, filePath: string): Promise<void> {
    await this.request('PUT', `sys/audit/${name}`, { type: 'file', options: { file_path: filePath } });
  }

  async putPolicy(name: string, policy: string): Promise<void> {
    await this.request('PUT', `sys/policies/acl/${name}`, { policy });
  }

  // --- KV v2 ---
  /** Reads the current version, or `version` when given; `undefined` when the path has no data. */
  async kvRead<T>(mount: string, path: string, version?: number): Promise<KvRead<T> | undefined> {
    try {
      const body = await this.request<{ data: KvRead<T> }>('GET', `${mount}/data/${path}${version ? `?version=${version}` : ''}`);
      return body.data;
    } catch (err) {
      if (err instanceof VaultRequestError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** Writes a new version; `cas` 0 means "only if absent", N means "only if N is current". */
  async kvWrite(mount: string, path: string, data: Record<string, unknown>, cas?: number): Promise<KvVersionMetadata> {
    const body = await this.request<{ data: KvVersionMetadata }>('POST', `${mount}/data/${path}`, {
      data,
      ...(cas === undefined ? {} : { options: { cas } }),
    });
    return body.data;
  }

  async kvMetadata(mount: string, path: string): Promise<KvMetadata | undefined> {
    try {
      return (await this.request<{ data: KvMetadata }>('GET', `${mount}/metadata/${path}`)).data;
    } catch (err) {
      if (err instanceof VaultRequestError && err.status === 404) return undefined;
      throw err;
    }
  }

  async kvWriteMetadata(
    mount: string,
    path: string,
    metadata: { custom_metadata?: Record<string, string>; max_versions?: number; cas_required?: boolean },
  ): Promise<void> {
    await this.request('POST', `${mount}/metadata/${path}`, metadata);
  }

  /** Removes every version and the metadata: used for staged credentials once they are no longer needed. */
  async kvDeleteAll(mount: string, path: string): Promise<void> {
    await this.request('DELETE', `${mount}/metadata/${path}`);
  }

  async kvList(mount: string, path: string): Promise<string[]> {
    try {
      return (await this.request<{ data: { keys: string[] } }>('LIST', `${mount}/metadata/${path}`)).data.keys;
    } catch (err) {
      if (err instanceof VaultRequestError && err.status === 404) return [];
      throw err;
    }
  }

  // --- auth ---
  async approleLogin(
    roleId: string,
    secretId: string,
    mount = 'approle',
  ): Promise<{ client_token: string; lease_duration: number; token_policies?: string[] }> {
    const body = await this.request<{ auth: { client_token: string; lease_duration: number; token_policies?: string[] } }>(
      'POST',
      `auth/${mount}/login`,
      {
        role_id: roleId,
        secret_id: secretId,
      },
    );
    return body.auth;
  }

  /** Wraps `data` in a single-use token valid for `ttl` ("15m"); only its holder can unwrap it, once. */
  async wrap(data: Record<string, string>, ttl: string): Promise<{ token: string; accessor: string; ttl: number }> {
    const body = await this.request<{ wrap_info: { token: string; accessor: string; ttl: number } }>('POST', 'sys/wrapping/wrap', data, {
      'X-Vault-Wrap-TTL': ttl,
    });
    return body.wrap_info;
  }

  async unwrap<T>(wrapToken: string): Promise<T> {
    const body = await this.request<{ data: T }>('POST', 'sys/wrapping/unwrap', {}, { 'X-Vault-Token': wrapToken });
    return body.data;
  }

  // --- leases ---
  async revokeLease(leaseId: string): Promise<void> {
    // The lease id in the URL, not the body, so a policy can limit revocation to a lease prefix.
    await this.request('PUT', `sys/leases/revoke/${leaseId}`, { sync: true });
  }

  /** Every lease id under a prefix folder (LIST sys/leases/lookup, recursively; needs sudo). */
  async listLeases(prefix: string): Promise<string[]> {
    let keys: string[];
    try {
      keys = (await this.request<{ data: { keys: string[] } }>('LIST', `sys/leases/lookup/${prefix}`)).data.keys;
    } catch (err) {
      if (err instanceof VaultRequestError && err.status === 404) return [];
      throw err;
    }
    const out: string[] = [];
    for (const key of keys) {
      if (key.endsWith('/')) out.push(...(await this.listLeases(`${prefix}${key}`)));
      else out.push(`${prefix}${key}`);
    }
    return out;
  }

  /** `sys/leases/revoke-prefix` (needs sudo); node-vault's revokePrefix calls a path removed long ago. */
  async revokePrefix(prefix: string, force = false): Promise<void> {
    // Vault refuses writes to a path ending in "/"; it treats the prefix as a folder either way.
    await this.request('PUT', `sys/leases/${force ? 'revoke-force' : 'revoke-prefix'}/${prefix.replace(/\/+$/, '')}`, { sync: true });
  }
}

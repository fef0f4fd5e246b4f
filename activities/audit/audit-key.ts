import { AUDIT_TRANSIT_KEY } from '../../vault/policies/operator-policy.js';
import { VaultClient } from '../../vault/vault-client.js';
import type { VaultSession } from '../../vault/vault-session.js';

/**
 * The key that makes audit rows unforgeable without Vault: a transit key (type hmac) that never
 * leaves Vault. The worker may only MAC (`transit/hmac/rotor-audit`), an operator may only check
 * (`transit/verify/rotor-audit`), so neither the database owner nor an auditor can make a row that
 * verifies. What a row's MAC covers is {@link macInput}.
 */

/** A worker's session (re-logs in) or a client holding a person's token. */
export type AuditVault = VaultClient | Pick<VaultSession, 'run'>;

/** MACs written as Vault returns them: `vault:v<key version>:<base64>`. */
export const MAC_FORMAT = /^vault:v\d+:[A-Za-z0-9+/]+={0,2}$/;

/** The longest a MAC call may take: it runs while the append holds the audit lock. */
export const MAC_TIMEOUT_MS = 4_000;

/** Vault refused or failed to MAC or verify: names the path and what to fix, never a token. */
export class AuditKeyError extends Error {
  constructor(
    readonly action: 'hmac' | 'verify',
    message: string,
  ) {
    super(
      `audit key transit/${action}/${AUDIT_TRANSIT_KEY}: ${message} (the stack creates the key in stack/bootstrap-audit.ts; ` +
        `the worker's policy needs "update" on transit/hmac/${AUDIT_TRANSIT_KEY}, an operator's on transit/verify/${AUDIT_TRANSIT_KEY})`,
    );
    this.name = 'AuditKeyError';
  }
}

/**
 * What a row's MAC covers: its chain hash, which is the sha256 of the row's canonical content and
 * the previous row's hash (audit-entry.ts). The MAC so binds the row's content and its place in
 * the chain: whoever changes or deletes a row and recomputes the hashes after it (which needs no
 * key) leaves MACs that no longer match from that row on. A MAC over the content alone, with the
 * links over the MACs, would let a deleted row's successors be relinked with their MACs still
 * valid. seq is left out: the database assigns it at insert, after the MAC is made; order is
 * pinned by the links. The prefix keeps these MACs apart from anything else the key might MAC.
 */
export function macInput(hash: string): string {
  return Buffer.from(`rotor-audit-v1:${hash}`, 'utf8').toString('base64');
}

/** Runs `op` on the client, or through the session (which logs in again on an expired token). */
export function withVault<T>(vault: AuditVault, op: (client: VaultClient) => Promise<T>): Promise<T> {
  return vault instanceof VaultClient ? op(vault) : vault.run(op);
}

async function within<T>(ms: number, action: 'hmac' | 'verify', work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AuditKeyError(action, `no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function keyError(action: 'hmac' | 'verify', err: unknown): AuditKeyError {
  // VaultRequestError messages carry method, path, status and Vault's errors only (no headers).
  return err instanceof AuditKeyError ? err : new AuditKeyError(action, (err as Error).message ?? String(err));
}

interface BatchResult {
  hmac?: string;
  valid?: boolean;
  error?: string;
}

/** One `transit/hmac` call for the whole batch: the group-commit writer MACs a batch at once. */
export async function macHashes(vault: AuditVault, hashes: readonly string[]): Promise<string[]> {
  if (hashes.length === 0) return [];
  let results: BatchResult[];
  try {
    const body = await within(
      MAC_TIMEOUT_MS,
      'hmac',
      withVault(vault, (v) =>
        v.request<{ data: { batch_results: BatchResult[] } }>('POST', `transit/hmac/${AUDIT_TRANSIT_KEY}`, {
          batch_input: hashes.map((h) => ({ input: macInput(h) })),
        }),
      ),
    );
    results = body.data.batch_results;
  } catch (err) {
    throw keyError('hmac', err);
  }
  return hashes.map((_, i) => {
    const mac = results[i]?.hmac;
    if (!mac || !MAC_FORMAT.test(mac))
      throw new AuditKeyError('hmac', `item ${i} came back without a MAC (${results[i]?.error ?? 'no detail'})`);
    return mac;
  });
}

/** Whether each `mac` is the key's MAC of its `hash`; a malformed MAC is simply invalid. */
export async function verifyMacs(vault: AuditVault, items: readonly { hash: string; mac: string }[]): Promise<boolean[]> {
  const wellFormed = items.map((item) => MAC_FORMAT.test(item.mac));
  const asked = items.filter((_, i) => wellFormed[i]);
  let results: BatchResult[] = [];
  if (asked.length) {
    try {
      const body = await withVault(vault, (v) =>
        v.request<{ data: { batch_results: BatchResult[] } }>('POST', `transit/verify/${AUDIT_TRANSIT_KEY}`, {
          batch_input: asked.map((item) => ({ input: macInput(item.hash), hmac: item.mac })),
        }),
      );
      results = body.data.batch_results;
    } catch (err) {
      throw keyError('verify', err);
    }
  }
  // An item error (a key version that never existed, bad base64) means the MAC is not the key's.
  let next = 0;
  return wellFormed.map((ok) => ok && results[next++]?.valid === true);
}

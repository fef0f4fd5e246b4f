import type { NotificationTarget } from '../config/inventory-schema.js';
import type { VaultRunner } from '../vault/secret-session.js';
import { VaultRequestError } from '../vault/vault-error.js';

/** What a delivery needs from a target, resolved now: held in memory for one attempt, never stored or logged. */
export interface ResolvedTarget {
  url: string;
  signingKey?: string;
}

/** A target's URL or key could not be read from Vault: the delivery waits and retries (an operator may be fixing it). */
export class TargetUnavailableError extends Error {
  constructor(target: string, field: 'urlFrom' | 'signingKeyFrom', path: string, why: string) {
    super(`notification target ${target}: ${field} ${path} ${why}`);
    this.name = 'TargetUnavailableError';
  }
}

async function readField(
  vault: VaultRunner,
  kvMount: string,
  target: string,
  field: 'urlFrom' | 'signingKeyFrom',
  ref: { vault: string; field: string },
): Promise<string> {
  let data: Record<string, unknown> | undefined;
  try {
    data = (await vault.run((v) => v.kvRead<Record<string, unknown>>(kvMount, ref.vault)))?.data;
  } catch (err) {
    // A Vault error names the path and status, never the token (VaultRequestError); anything else is summarised.
    const why =
      err instanceof VaultRequestError
        ? err.status === 403
          ? "could not be read (Vault answered 403: the worker's policy lacks it; render and write it again: rotor policy render worker)"
          : `could not be read (Vault answered ${err.status ?? 'nothing'})`
        : 'could not be read (Vault unreachable)';
    throw new TargetUnavailableError(target, field, ref.vault, why);
  }
  const value = data?.[ref.field];
  if (typeof value !== 'string' || value === '')
    throw new TargetUnavailableError(
      target,
      field,
      ref.vault,
      `has no string field "${ref.field}" (write it with: bao kv put ${kvMount}/${ref.vault} ${ref.field}=…)`,
    );
  return value;
}

/** Reads the target's URL (and signing key) where the inventory says they are. */
export async function resolveTarget(
  vault: VaultRunner,
  kvMount: string,
  name: string,
  target: NotificationTarget,
): Promise<ResolvedTarget> {
  const url = target.urlFrom ? await readField(vault, kvMount, name, 'urlFrom', target.urlFrom) : target.url!;
  // Checked here rather than by fetch, whose error would quote the URL.
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:'))
    throw new TargetUnavailableError(name, 'urlFrom', target.urlFrom?.vault ?? '(inventory)', 'does not hold an http(s) URL');
  const signingKey =
    target.type === 'webhook' && target.signingKeyFrom
      ? await readField(vault, kvMount, name, 'signingKeyFrom', target.signingKeyFrom)
      : undefined;
  return { url, ...(signingKey ? { signingKey } : {}) };
}

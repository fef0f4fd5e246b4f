import type { Credential } from '../providers/provider.js';

/** Field-by-field equality of two stored credentials (used to recognise our own earlier write on retry). */
export function sameCredential(a: Credential, b: Credential): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

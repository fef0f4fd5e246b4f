import { readFile } from 'node:fs/promises';
import { TargetUnavailableError } from './provider.js';

/**
 * The PEM CA bundle a target's certificate must chain to, read on the worker's host; `field` names
 * the inventory setting in errors (e.g. "provider.ssl.caFile").
 */
export async function readCaFile(caFile: string, field: string): Promise<Buffer> {
  let pem: Buffer;
  try {
    pem = await readFile(caFile);
  } catch (err) {
    throw new TargetUnavailableError(
      `${field}: cannot read ${caFile} on this worker (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); ` +
        "put the PEM file of the CA that signed the server's certificate there, readable by the worker",
    );
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new TargetUnavailableError(
      `${field}: ${caFile} holds no PEM certificate; point it at the CA that signed the server's certificate (PEM)`,
    );
  }
  return pem;
}

import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import { EnvironmentError, type Environment } from './environment.js';

/**
 * How to reach the Temporal frontend: the options both `Connection.connect` (@temporalio/client)
 * and `NativeConnection.connect` (@temporalio/worker) take, since both use the SDK's one
 * `TLSConfig` shape. Spread it and add what a caller needs: `{ ...temporalConnectionOptions(env), connectTimeout: 5000 }`.
 */
export interface TemporalConnectionOptions {
  address: string;
  /** Absent: plaintext gRPC (ROTOR_TEMPORAL_TLS unset or "false"). */
  tls?: TLSConfig;
}

type TlsFileVariable = 'ROTOR_TEMPORAL_TLS_CA_FILE' | 'ROTOR_TEMPORAL_TLS_CERT_FILE' | 'ROTOR_TEMPORAL_TLS_KEY_FILE';

const WHAT: Record<TlsFileVariable, string> = {
  ROTOR_TEMPORAL_TLS_CA_FILE: "the PEM file of the CA that signed Temporal's server certificate",
  ROTOR_TEMPORAL_TLS_CERT_FILE: "the PEM file of this worker's client certificate",
  ROTOR_TEMPORAL_TLS_KEY_FILE: "the PEM file of the client certificate's private key",
};

/**
 * The TLS options of ROTOR_TEMPORAL_TLS*, files read now (at start, synchronously, so one call
 * serves every caller): a missing or unreadable file fails the start, naming its variable, instead
 * of a handshake error at the first call. Pairing rules are checked by loadEnvironment.
 */
export function temporalConnectionOptions(env: Environment): TemporalConnectionOptions {
  const address = env.ROTOR_TEMPORAL_ADDRESS;
  if (env.ROTOR_TEMPORAL_TLS !== 'true') return { address };
  const issues: string[] = [];
  const read = (variable: TlsFileVariable): Buffer | undefined => {
    const path = env[variable];
    if (path === undefined) return undefined;
    let pem: Buffer;
    try {
      pem = readFileSync(path);
    } catch (err) {
      issues.push(
        `${variable}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); point it at ${WHAT[variable]}, readable by rotor`,
      );
      return undefined;
    }
    // A DER file or the wrong file (a key for a certificate) would only fail later, inside the handshake.
    if (!pem.includes('-----BEGIN ')) {
      issues.push(`${variable}: ${path} is not PEM (no "-----BEGIN" line); point it at ${WHAT[variable]}`);
      return undefined;
    }
    return pem;
  };
  const ca = read('ROTOR_TEMPORAL_TLS_CA_FILE');
  const crt = read('ROTOR_TEMPORAL_TLS_CERT_FILE');
  const key = read('ROTOR_TEMPORAL_TLS_KEY_FILE');
  if (issues.length) throw new EnvironmentError(issues);
  const tls: TLSConfig = {};
  if (ca) tls.serverRootCACertificate = ca;
  if (crt && key) tls.clientCertPair = { crt, key };
  if (env.ROTOR_TEMPORAL_TLS_SERVER_NAME) tls.serverNameOverride = env.ROTOR_TEMPORAL_TLS_SERVER_NAME;
  return { address, tls };
}

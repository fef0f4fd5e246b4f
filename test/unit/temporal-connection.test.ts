import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvironmentError, loadEnvironment } from '../../config/environment.js';
import { temporalConnectionOptions } from '../../config/temporal-connection.js';
import { createCertificateAuthority, issueCertificate, type CertificateFiles } from '../../stack/self-signed-tls.js';

const required = {
  ROTOR_VAULT_ADDR: 'http://127.0.0.1:8200',
  ROTOR_VAULT_ROLE_ID: 'role-id-123',
  ROTOR_VAULT_SECRET_ID: 'secret-id-456',
  ROTOR_DATABASE_URL: 'postgres://rotor:pw@127.0.0.1:5432/rotor',
  ROTOR_CODEC_KEY: randomBytes(32).toString('base64'),
  ROTOR_TEMPORAL_ADDRESS: 'temporal.internal:7233',
} satisfies NodeJS.ProcessEnv;

/** The issues an environment is refused with, by loadEnvironment or the option builder. */
function issuesOf(env: NodeJS.ProcessEnv): string[] {
  try {
    temporalConnectionOptions(loadEnvironment(env));
  } catch (err) {
    expect(err).toBeInstanceOf(EnvironmentError);
    return (err as EnvironmentError).issues;
  }
  throw new Error('the environment should have been refused');
}

describe('temporalConnectionOptions (ROTOR_TEMPORAL_TLS*)', () => {
  let dir: string;
  let ca: CertificateFiles;
  let client: CertificateFiles;

  beforeAll(async () => {
    // Real PEM files, made by openssl as an operator would.
    dir = mkdtempSync(join(tmpdir(), 'rotor-temporal-tls-'));
    ca = await createCertificateAuthority(dir, 'ca');
    client = await issueCertificate(ca, dir, 'worker');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is plaintext by default: the address alone, no tls key', () => {
    expect(temporalConnectionOptions(loadEnvironment(required))).toEqual({ address: 'temporal.internal:7233' });
    expect(temporalConnectionOptions(loadEnvironment({ ...required, ROTOR_TEMPORAL_TLS: 'false' }))).toEqual({
      address: 'temporal.internal:7233',
    });
  });

  it('ROTOR_TEMPORAL_TLS=true alone: TLS verified against the system CAs', () => {
    expect(temporalConnectionOptions(loadEnvironment({ ...required, ROTOR_TEMPORAL_TLS: 'true' }))).toEqual({
      address: 'temporal.internal:7233',
      tls: {},
    });
  });

  it('reads the CA, the client certificate pair and the server name into the SDK TLSConfig shape', () => {
    const options = temporalConnectionOptions(
      loadEnvironment({
        ...required,
        ROTOR_TEMPORAL_TLS: 'true',
        ROTOR_TEMPORAL_TLS_CA_FILE: ca.cert,
        ROTOR_TEMPORAL_TLS_CERT_FILE: client.cert,
        ROTOR_TEMPORAL_TLS_KEY_FILE: client.key,
        ROTOR_TEMPORAL_TLS_SERVER_NAME: 'temporal.example.com',
      }),
    );
    expect(options).toEqual({
      address: 'temporal.internal:7233',
      tls: {
        serverRootCACertificate: readFileSync(ca.cert),
        clientCertPair: { crt: readFileSync(client.cert), key: readFileSync(client.key) },
        serverNameOverride: 'temporal.example.com',
      },
    });
  });

  it('treats empty variables (docker-compose `${VAR:-}`) as unset', () => {
    const env = loadEnvironment({
      ...required,
      ROTOR_TEMPORAL_TLS: '',
      ROTOR_TEMPORAL_TLS_CA_FILE: '',
      ROTOR_TEMPORAL_TLS_CERT_FILE: '',
      ROTOR_TEMPORAL_TLS_KEY_FILE: '',
      ROTOR_TEMPORAL_TLS_SERVER_NAME: '',
    });
    expect(temporalConnectionOptions(env)).toEqual({ address: 'temporal.internal:7233' });
  });

  it('refuses a certificate without its key, and a key without its certificate, naming the missing one', () => {
    expect(issuesOf({ ...required, ROTOR_TEMPORAL_TLS: 'true', ROTOR_TEMPORAL_TLS_CERT_FILE: client.cert })).toEqual([
      'ROTOR_TEMPORAL_TLS_KEY_FILE: mTLS needs the client certificate and its key: ROTOR_TEMPORAL_TLS_CERT_FILE is set, so set ROTOR_TEMPORAL_TLS_KEY_FILE too, or unset both (not set)',
    ]);
    expect(issuesOf({ ...required, ROTOR_TEMPORAL_TLS: 'true', ROTOR_TEMPORAL_TLS_KEY_FILE: client.key })[0]).toMatch(
      /^ROTOR_TEMPORAL_TLS_CERT_FILE: mTLS needs the client certificate and its key: ROTOR_TEMPORAL_TLS_KEY_FILE is set/,
    );
  });

  it('refuses TLS settings while ROTOR_TEMPORAL_TLS is not "true" (no silent plaintext)', () => {
    expect(issuesOf({ ...required, ROTOR_TEMPORAL_TLS_CA_FILE: ca.cert })).toEqual([
      'ROTOR_TEMPORAL_TLS_CA_FILE: is set but ROTOR_TEMPORAL_TLS is not "true"; set ROTOR_TEMPORAL_TLS=true or unset it',
    ]);
    expect(issuesOf({ ...required, ROTOR_TEMPORAL_TLS: 'yes' })[0]).toBe('ROTOR_TEMPORAL_TLS: must be "true" or "false"');
  });

  it('names the variable of a missing file and the fix', () => {
    const missing = join(dir, 'nope.pem');
    expect(issuesOf({ ...required, ROTOR_TEMPORAL_TLS: 'true', ROTOR_TEMPORAL_TLS_CA_FILE: missing })).toEqual([
      `ROTOR_TEMPORAL_TLS_CA_FILE: cannot read ${missing} (ENOENT); point it at the PEM file of the CA that signed Temporal's server certificate, readable by rotor`,
    ]);
  });

  it.runIf(process.getuid?.() !== 0)('names the variable of an unreadable file', () => {
    const locked = join(dir, 'locked.key');
    writeFileSync(locked, readFileSync(client.key));
    chmodSync(locked, 0o000);
    const issues = issuesOf({
      ...required,
      ROTOR_TEMPORAL_TLS: 'true',
      ROTOR_TEMPORAL_TLS_CERT_FILE: client.cert,
      ROTOR_TEMPORAL_TLS_KEY_FILE: locked,
    });
    expect(issues).toEqual([expect.stringMatching(/^ROTOR_TEMPORAL_TLS_KEY_FILE: cannot read .* \(EACCES\)/)]);
  });

  it('refuses a file that is not PEM, and reports every bad file at once', () => {
    const der = join(dir, 'ca.der');
    writeFileSync(der, randomBytes(64));
    const issues = issuesOf({
      ...required,
      ROTOR_TEMPORAL_TLS: 'true',
      ROTOR_TEMPORAL_TLS_CA_FILE: der,
      ROTOR_TEMPORAL_TLS_CERT_FILE: join(dir, 'missing.pem'),
      ROTOR_TEMPORAL_TLS_KEY_FILE: client.key,
    });
    expect(issues).toEqual([
      `ROTOR_TEMPORAL_TLS_CA_FILE: ${der} is not PEM (no "-----BEGIN" line); point it at the PEM file of the CA that signed Temporal's server certificate`,
      expect.stringMatching(
        /^ROTOR_TEMPORAL_TLS_CERT_FILE: cannot read .*missing\.pem \(ENOENT\); point it at the PEM file of this worker's client certificate/,
      ),
    ]);
  });
});

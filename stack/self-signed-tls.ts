import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from './run-command.js';
import { StackError } from './stack-error.js';

/** A PEM certificate and its unencrypted PEM key, as files. */
export interface CertificateFiles {
  cert: string;
  key: string;
}

export interface LeafOptions {
  /** Subject alternative names: `IP:127.0.0.1`, `DNS:localhost`. A server certificate is checked against these, never the CN. */
  altNames?: readonly string[];
}

// P-256 keys: generated in milliseconds (RSA takes a noticeable fraction of a second), accepted by
// PostgreSQL (OpenSSL), Node and Temporal's Rust core (rustls).
const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650'];

/**
 * Our own minimal openssl config: the system's default adds `CA:TRUE` to every `req -x509`
 * certificate, which rustls refuses on a leaf.
 */
function opensslConfig(commonName: string, extensions: string[]): string {
  return ['[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', `CN = ${commonName}`, '[ext]', ...extensions, ''].join('\n');
}

async function openssl(dir: string, name: string, config: string, args: string[]): Promise<void> {
  const configFile = join(dir, `${name}.openssl.cnf`);
  await writeFile(configFile, config);
  try {
    const result = await runCommand('openssl', ['req', '-x509', '-config', configFile, '-extensions', 'ext', ...KEY_ARGS, ...args]).catch(
      (err: NodeJS.ErrnoException) => ({ code: -1, stdout: '', stderr: err.code === 'ENOENT' ? 'openssl is not on PATH' : err.message }),
    );
    if (result.code !== 0) {
      throw new StackError(
        `openssl could not create the certificate "${name}": ${result.stderr.trim()}`,
        'install openssl (apt-get install openssl)',
      );
    }
  } finally {
    await rm(configFile, { force: true });
  }
}

/** A new self-signed CA in `dir` (`<name>.pem`, `<name>.key`); keys are written 0600. */
export async function createCertificateAuthority(dir: string, name: string): Promise<CertificateFiles> {
  const files = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  const config = opensslConfig(`rotor ${name}`, [
    'basicConstraints = critical, CA:TRUE',
    'keyUsage = critical, keyCertSign, cRLSign',
    'subjectKeyIdentifier = hash',
  ]);
  await openssl(dir, name, config, ['-keyout', files.key, '-out', files.cert]);
  return files;
}

/** A certificate signed by `ca`, usable by a server (with `altNames`) and as a client certificate (mTLS). */
export async function issueCertificate(
  ca: CertificateFiles,
  dir: string,
  name: string,
  options: LeafOptions = {},
): Promise<CertificateFiles> {
  const files = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  const config = opensslConfig(`rotor ${name}`, [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature, keyEncipherment',
    'extendedKeyUsage = serverAuth, clientAuth',
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid',
    ...(options.altNames?.length ? [`subjectAltName = ${options.altNames.join(', ')}`] : []),
  ]);
  await openssl(dir, name, config, ['-CA', ca.cert, '-CAkey', ca.key, '-keyout', files.key, '-out', files.cert]);
  return files;
}

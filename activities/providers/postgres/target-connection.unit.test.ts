import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../../stack/self-signed-tls.js';
import { ProviderCaches } from '../provider-caches.js';
import { TargetUnavailableError } from '../provider.js';
import { postgresSpec } from './schema.js';
import { connectFailure, targetSsl, type TargetEndpoint } from './target-connection.js';

const endpoint: TargetEndpoint = { host: 'db.internal', port: 5432, database: 'app' };
const base = { type: 'postgres', adminPath: '_rotor/admin/db', users: ['app_a', 'app_b'] };

/** The inventory issues of a `provider.ssl` value, as "path: message". */
function sslIssues(ssl: unknown): string[] {
  const parsed = postgresSpec.safeParse({ ...base, ssl });
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

/** A server that answers PostgreSQL's SSLRequest with one byte, as a server with ssl on ('S') or off ('N') does. */
async function answering(byte: 'S' | 'N'): Promise<{ server: Server; endpoint: TargetEndpoint }> {
  const server = createServer((socket) => socket.once('data', () => socket.end(byte)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, endpoint: { host: '127.0.0.1', port: (server.address() as AddressInfo).port, database: 'app' } };
}

describe('provider.ssl (inventory)', () => {
  it('accepts each sslmode, and a CA file with verify-ca / verify-full', () => {
    for (const mode of ['disable', 'prefer', 'require', 'verify-ca', 'verify-full']) expect(sslIssues({ mode })).toEqual([]);
    expect(sslIssues({ mode: 'verify-full', caFile: '/etc/rotor/pg-ca.pem' })).toEqual([]);
    expect(postgresSpec.parse(base).ssl).toBeUndefined();
  });

  it('names the field and the fix', () => {
    expect(sslIssues({ mode: 'verify' })).toEqual(["ssl.mode: one of disable, prefer, require, verify-ca, verify-full (libpq's sslmode)"]);
    expect(sslIssues({ mode: 'require', caFile: '/ca.pem' })).toEqual([
      'ssl.caFile: a CA file is used only by mode verify-ca or verify-full; set one of those or remove caFile',
    ]);
    expect(sslIssues({ mode: 'verify-full', caFile: '' })[0]).toMatch(/^ssl\.caFile: the path of a PEM CA file/);
    expect(sslIssues({ mode: 'verify-full', rootCert: '/ca.pem' })[0]).toMatch(/^ssl: .*rootCert/); // strict: a typo is not ignored
  });
});

describe('targetSsl: sslmode to node-postgres `ssl`', () => {
  const caches = new ProviderCaches();
  let dir: string;
  let ca: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rotor-pg-tls-'));
    ca = (await createCertificateAuthority(dir, 'ca')).cert;
  });
  afterAll(async () => {
    await caches.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('disable (and no ssl block) is plaintext; require encrypts without verifying', async () => {
    expect(await targetSsl(caches, endpoint, undefined)).toBe(false);
    expect(await targetSsl(caches, endpoint, { mode: 'disable' })).toBe(false);
    expect(await targetSsl(caches, endpoint, { mode: 'require' })).toEqual({ rejectUnauthorized: false });
  });

  it('verify-full checks the chain against caFile and the host name (Node default); verify-ca only the chain', async () => {
    expect(await targetSsl(caches, endpoint, { mode: 'verify-full', caFile: ca })).toEqual({
      rejectUnauthorized: true,
      ca: readFileSync(ca),
    });
    const verifyCa = await targetSsl(caches, endpoint, { mode: 'verify-ca', caFile: ca });
    expect(verifyCa).toMatchObject({ rejectUnauthorized: true, ca: readFileSync(ca) });
    expect(verifyCa && verifyCa.checkServerIdentity?.('other.host', {} as never)).toBeUndefined();
    // Without caFile: the CAs Node trusts.
    expect(await targetSsl(caches, endpoint, { mode: 'verify-full' })).toEqual({ rejectUnauthorized: true });
  });

  it('a CA file that is missing or not PEM is a retryable error naming provider.ssl.caFile', async () => {
    const notPem = join(dir, 'ca.der');
    writeFileSync(notPem, Buffer.from([0x30, 0x82, 0x01]));
    await expect(targetSsl(caches, endpoint, { mode: 'verify-ca', caFile: join(dir, 'nope.pem') })).rejects.toThrow(
      new TargetUnavailableError(
        `provider.ssl.caFile: cannot read ${join(dir, 'nope.pem')} on this worker (ENOENT); put the PEM file of the CA that signed the server's certificate there, readable by the worker`,
      ),
    );
    await expect(targetSsl(caches, endpoint, { mode: 'verify-full', caFile: notPem })).rejects.toThrow(
      /provider\.ssl\.caFile: .* holds no PEM certificate/,
    );
  });

  it('prefer asks the server (SSLRequest): TLS unverified when it answers S, plaintext when N', async () => {
    const yes = await answering('S');
    const no = await answering('N');
    try {
      expect(await targetSsl(caches, yes.endpoint, { mode: 'prefer' })).toEqual({ rejectUnauthorized: false });
      expect(await targetSsl(caches, no.endpoint, { mode: 'prefer' })).toBe(false);
    } finally {
      yes.server.close();
      no.server.close();
    }
  });

  it('prefer with nothing listening is a retryable "cannot reach"', async () => {
    const gone = await answering('S');
    await new Promise((resolve) => gone.server.close(resolve));
    await expect(targetSsl(new ProviderCaches(), gone.endpoint, { mode: 'prefer' })).rejects.toThrow(TargetUnavailableError);
  });
});

describe('connectFailure', () => {
  const error = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});

  it('names provider.ssl and the fix for each TLS failure', () => {
    expect(connectFailure(error('The server does not support SSL connections'), endpoint, { mode: 'require' })).toBe(
      'provider.ssl (mode require): PostgreSQL at db.internal:5432 does not offer TLS; turn ssl on at the server, or set provider.ssl.mode to prefer or disable',
    );
    expect(
      connectFailure(error("Hostname/IP does not match certificate's altnames", 'ERR_TLS_CERT_ALTNAME_INVALID'), endpoint, {
        mode: 'verify-full',
      }),
    ).toMatch(
      /^provider\.ssl \(mode verify-full\): the certificate of PostgreSQL at db\.internal:5432 does not name "db\.internal" .*use mode verify-ca$/,
    );
    expect(
      connectFailure(error('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN'), endpoint, {
        mode: 'verify-ca',
        caFile: '/ca.pem',
      }),
    ).toMatch(/not signed by the CA in provider\.ssl\.caFile \/ca\.pem .*point caFile at the CA that signed it$/);
    expect(
      connectFailure(error('unable to verify the first certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'), endpoint, { mode: 'verify-full' }),
    ).toMatch(/not signed by a CA Node trusts .*set provider\.ssl\.caFile/);
  });

  it('passes other failures through', () => {
    expect(connectFailure(error('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'), endpoint, { mode: 'verify-full' })).toBe(
      'connect ECONNREFUSED 127.0.0.1:5432',
    );
    expect(connectFailure(error('password authentication failed for user "x"', '28P01'), endpoint, undefined)).toBe(
      'password authentication failed for user "x"',
    );
  });
});

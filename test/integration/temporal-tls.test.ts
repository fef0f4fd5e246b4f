import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect as tcpConnect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnvironment, type Environment } from '../../config/environment.js';
import { temporalConnectionOptions } from '../../config/temporal-connection.js';
import { createCertificateAuthority, issueCertificate, type CertificateFiles } from '../../stack/self-signed-tls.js';
import { readStackFile, type StackFile } from '../../stack/up.js';

/**
 * `temporal server start-dev` serves plaintext only (no TLS flags in the CLI 1.5.1), so TLS is
 * terminated in front of the stack's Temporal, as a proxy in front of a production frontend would:
 * mTLS required, certificates made by openssl now. The stack's Temporal is only a client's
 * destination here, on a port of this test's own.
 */
describe('Temporal over TLS / mTLS (ROTOR_TEMPORAL_TLS*)', () => {
  let dir: string;
  let file: StackFile;
  let proxy: Server;
  let address: string;
  let ca: CertificateFiles;
  let worker: CertificateFiles;
  let strangerCa: CertificateFiles;
  let stranger: CertificateFiles;

  beforeAll(async () => {
    file = await readStackFile('test');
    const [host, port] = (file.env.ROTOR_TEMPORAL_ADDRESS ?? '').split(':');
    dir = await mkdtemp(join(file.stateDir, 'temporal-tls-'));
    ca = await createCertificateAuthority(dir, 'ca');
    // Named only by DNS: the worker reaches it at 127.0.0.1 and must say which name to check.
    const server = await issueCertificate(ca, dir, 'frontend', { altNames: ['DNS:temporal.rotor.test'] });
    worker = await issueCertificate(ca, dir, 'worker');
    strangerCa = await createCertificateAuthority(dir, 'stranger-ca');
    stranger = await issueCertificate(strangerCa, dir, 'stranger');
    proxy = createServer(
      {
        cert: await readFile(server.cert),
        key: await readFile(server.key),
        ca: await readFile(ca.cert),
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: ['h2'],
      },
      (tls) => {
        const upstream = tcpConnect({ host, port: Number(port) });
        tls.pipe(upstream).pipe(tls);
        tls.on('error', () => upstream.destroy());
        upstream.on('error', () => tls.destroy());
      },
    );
    proxy.on('tlsClientError', () => undefined); // the refusals below
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    address = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => proxy?.close(resolve));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function env(tls: Record<string, string>): Environment {
    return loadEnvironment({ ...file.env, ROTOR_TEMPORAL_ADDRESS: address, ...tls });
  }
  const mtls = () => ({
    ROTOR_TEMPORAL_TLS: 'true',
    ROTOR_TEMPORAL_TLS_CA_FILE: ca.cert,
    ROTOR_TEMPORAL_TLS_CERT_FILE: worker.cert,
    ROTOR_TEMPORAL_TLS_KEY_FILE: worker.key,
    ROTOR_TEMPORAL_TLS_SERVER_NAME: 'temporal.rotor.test',
  });

  /** What the client (CLI, schedules, tests) sees: the namespace, or why it could not ask. */
  async function clientDescribes(e: Environment): Promise<string> {
    try {
      const connection = await Connection.connect({ ...temporalConnectionOptions(e), connectTimeout: 3000 });
      try {
        const answer = await connection.workflowService.describeNamespace({ namespace: 'default' });
        return answer.namespaceInfo?.name ?? '';
      } finally {
        await connection.close();
      }
    } catch (err) {
      return `refused: ${(err as Error).message}`;
    }
  }

  /** What the worker's native (Rust core) connection sees. */
  async function workerDescribes(e: Environment): Promise<string> {
    try {
      const connection = await NativeConnection.connect(temporalConnectionOptions(e));
      try {
        const answer = await connection.workflowService.describeNamespace({ namespace: 'default' });
        return answer.namespaceInfo?.name ?? '';
      } finally {
        await connection.close();
      }
    } catch (err) {
      return `refused: ${(err as Error).message}`;
    }
  }

  it('the client and the worker connection both reach Temporal with the CA, the client certificate and the server name', async () => {
    expect(await clientDescribes(env(mtls()))).toBe('default');
    expect(await workerDescribes(env(mtls()))).toBe('default');
  });

  it('is refused without the client certificate (mTLS)', async () => {
    const { ROTOR_TEMPORAL_TLS_CERT_FILE: _c, ROTOR_TEMPORAL_TLS_KEY_FILE: _k, ...noCert } = mtls();
    expect(await clientDescribes(env(noCert))).toMatch(/^refused/);
    expect(await workerDescribes(env(noCert))).toMatch(/^refused/);
  });

  it('is refused with a client certificate of another CA', async () => {
    const foreign = { ...mtls(), ROTOR_TEMPORAL_TLS_CERT_FILE: stranger.cert, ROTOR_TEMPORAL_TLS_KEY_FILE: stranger.key };
    expect(await clientDescribes(env(foreign))).toMatch(/^refused/);
    expect(await workerDescribes(env(foreign))).toMatch(/^refused/);
  });

  it('refuses a server its CA did not sign: without ROTOR_TEMPORAL_TLS_CA_FILE, or with the wrong one', async () => {
    const { ROTOR_TEMPORAL_TLS_CA_FILE: _ca, ...systemCas } = mtls();
    expect(await clientDescribes(env(systemCas))).toMatch(/^refused/);
    expect(await workerDescribes(env(systemCas))).toMatch(/^refused/);
    const wrongCa = { ...mtls(), ROTOR_TEMPORAL_TLS_CA_FILE: strangerCa.cert };
    expect(await clientDescribes(env(wrongCa))).toMatch(/^refused/);
    expect(await workerDescribes(env(wrongCa))).toMatch(/^refused/);
  });

  it('refuses a server whose certificate does not carry the expected name', async () => {
    const { ROTOR_TEMPORAL_TLS_SERVER_NAME: _n, ...byAddress } = mtls();
    expect(await clientDescribes(env(byAddress))).toMatch(/^refused/);
    expect(await workerDescribes(env(byAddress))).toMatch(/^refused/);
  });

  it('plaintext to a TLS frontend does not get through', async () => {
    expect(await clientDescribes(env({ ROTOR_TEMPORAL_TLS: 'false' }))).toMatch(/^refused/);
  });
});

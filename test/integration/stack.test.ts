import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VaultClient } from '../../vault/vault-client.js';
import { AesGcmCodec } from '../../workers/codec.js';
import { VaultRequestError } from '../../vault/vault-error.js';
import { postgresSecretYaml } from '../helpers/rotation-fixtures.js';
import { startTestStack, superuserClient, type TestStack } from '../helpers/test-stack.js';

describe('the local stack is real', () => {
  let stack: TestStack;
  beforeAll(async () => {
    // The KV test below writes the path of this secret: the worker's policy names only its inventory's paths.
    stack = await startTestStack('stack', `secrets:\n${postgresSecretYaml('stack-kv')}`);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('executes a workflow on the Temporal server through a worker that reaches Vault and PostgreSQL', async () => {
    const result = await stack.client.workflow.execute('stackHealth', {
      taskQueue: stack.taskQueue,
      workflowId: `stack-health-${stack.taskQueue}`,
      args: [{}],
    });
    expect(result).toMatchObject({ vault: { sealed: false }, database: { migrations: expect.arrayContaining(['001_audit_log.sql']) } });
    const history = await stack.client.workflow.getHandle(`stack-health-${stack.taskQueue}`).fetchHistory();
    expect(history.events?.some((e) => e.workflowExecutionCompletedEventAttributes)).toBe(true);
  });

  it('writes two KV v2 versions and reads version 1 back under the worker AppRole token; refuses paths outside its policy', async () => {
    const anonymous = new VaultClient(stack.env.ROTOR_VAULT_ADDR);
    const auth = await anonymous.approleLogin(stack.env.ROTOR_VAULT_ROLE_ID, stack.env.ROTOR_VAULT_SECRET_ID);
    // Requests about one secret go with a child token holding only that secret's policy (vault/vault-session.ts).
    const minted = await new VaultClient(stack.env.ROTOR_VAULT_ADDR, auth.client_token).request<{ auth: { client_token: string } }>(
      'POST',
      `auth/token/create/${stack.workerPolicy}-secrets`,
      { policies: [`${stack.workerPolicy}-secret-stack-kv`] },
    );
    const worker = new VaultClient(stack.env.ROTOR_VAULT_ADDR, minted.auth.client_token);
    const path = 'apps/stack-kv';
    const v1 = await worker.kvWrite('rotor', path, { value: 'first' }, 0);
    const v2 = await worker.kvWrite('rotor', path, { value: 'second' }, v1.version);
    expect([v1.version, v2.version]).toEqual([1, 2]);
    expect((await worker.kvRead<{ value: string }>('rotor', path, 1))?.data.value).toBe('first');
    expect((await worker.kvRead<{ value: string }>('rotor', path))?.data.value).toBe('second');

    // A stale check-and-set is detected, not overwritten.
    const stale = await worker.kvWrite('rotor', path, { value: 'third' }, 1).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(VaultRequestError);
    expect((stale as VaultRequestError).isCasMismatch).toBe(true);

    for (const attempt of [
      () => worker.putPolicy('escalate', 'path "*" { capabilities = ["sudo"] }'),
      () => worker.mounts(),
      () => worker.request('DELETE', `rotor/metadata/${path}`),
    ]) {
      const err = await attempt().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VaultRequestError);
      expect((err as VaultRequestError).status).toBe(403);
    }
    // The error carries no token.
    expect(
      JSON.stringify(await worker.mounts().catch((e: unknown) => ({ ...(e as object), message: (e as Error).message }))),
    ).not.toContain(minted.auth.client_token);
  });

  it('runs PostgreSQL with rotor migrations applied and an append-only audit table', async () => {
    const client = await superuserClient(stack.file, 'rotor');
    try {
      const migrations = await client.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY name');
      expect(migrations.rows.map((r) => r.name)).toEqual([
        '001_audit_log.sql',
        '002_incident_freeze.sql',
        '003_freeze_scope.sql',
        '004_audit_keyed.sql',
        '005_audit_by_run.sql',
        '006_audit_by_step.sql',
        '007_notifications.sql',
        '008_metrics_indexes.sql',
      ]);
      await expect(client.query('DELETE FROM audit_log')).rejects.toThrow(/append-only/);
    } finally {
      await client.end();
    }
  });

  it('serves the UI codec endpoint only to callers holding the codec token, and decodes what the worker encrypted', async () => {
    const { url, token } = stack.file.codec;
    const uiOrigin = `http://127.0.0.1:${stack.file.ports.temporalUi}`;
    const [encoded] = await new AesGcmCodec(stack.env.ROTOR_CODEC_KEY).encode([
      { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('{"secretId":"x"}') },
    ]);
    const body = JSON.stringify({
      payloads: [
        {
          metadata: Object.fromEntries(Object.entries(encoded!.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
          data: Buffer.from(encoded!.data!).toString('base64'),
        },
      ],
    });
    const post = (headers: Record<string, string>) =>
      fetch(`${url}/decode`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

    expect((await post({})).status).toBe(401);
    expect((await post({ authorization: 'Bearer wrong' })).status).toBe(401);
    const ok = await post({ authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    const decoded = (await ok.json()) as { payloads: { data: string }[] };
    expect(Buffer.from(decoded.payloads[0]!.data, 'base64').toString()).toBe('{"secretId":"x"}');

    // A browser on the UI's origin gets CORS and, after /login, a cookie that authorises it; others get neither.
    expect((await fetch(`${url}/decode`, { method: 'OPTIONS', headers: { origin: 'http://evil.example' } })).status).toBe(403);
    const preflight = await fetch(`${url}/decode`, { method: 'OPTIONS', headers: { origin: uiOrigin } });
    expect(preflight.headers.get('access-control-allow-origin')).toBe(uiOrigin);
    expect((await fetch(`${url}/login?token=wrong`)).status).toBe(401);
    const login = await fetch(`${url}/login?token=${token}`);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    expect((await post({ cookie, origin: uiOrigin })).status).toBe(200);
  });
});

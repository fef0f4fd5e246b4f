import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityToken } from '../../../test/helpers/operators.js';
import { liftFreeze, runIncident } from '../../../test/helpers/incident.js';
import { leakHaystack, seedAndRotationIds } from '../../../test/helpers/leak-scan.js';
import { rotate, seed, startRotation, waitForStatus } from '../../../test/helpers/rotation-fixtures.js';
import { startTestStack, type TestStack } from '../../../test/helpers/test-stack.js';
import { bootstrapRedis, DEMO_REDIS_ADMIN_PATH, DEMO_REDIS_ADMIN_USER, REDIS_ADMIN_RULES } from '../../../stack/bootstrap-redis.js';
import type { RedisServer } from '../../../stack/redis-server.js';
import { incidentWorkflowId, statusQuery } from '../../../workflows/contracts.js';
import type { RotationResult } from '../../../workflows/rotation-types.js';
import { parseAclUser, parseClientList, passwordHash } from './acl.js';
import { connectAs, isWrongPass, type RedisConnection } from './connection.js';
import { ProviderCaches } from '../provider-caches.js';
import { CredentialRejectedError } from '../provider.js';
import { redisProvider } from './provider.js';
import type { RedisAdmin, RedisCredential } from './schema.js';

const SINGLE = 'redis-single';
const PAIR = 'redis-pair';
const ROLLBACK = 'redis-rollback';
const LEAKED = 'redis-leaked';
const IDS = [SINGLE, PAIR, ROLLBACK, LEAKED];
const CLIENT_NAME = 'sess-app';

const secretYaml = (id: string, provider: string, confirm: string) => `  - id: ${id}
    path: apps/${id}
    owner: team-cache
    tags: [test]
    provider: { type: redis-acl, adminPath: ${DEMO_REDIS_ADMIN_PATH}, ${provider} }
    overlap: 1s
    consumers:
      - name: cache-app
        confirm: ${confirm}
`;

const inventory = `secrets:
${secretYaml(SINGLE, 'user: rt-single', '{ mode: manual, timeout: 2m }')}${secretYaml(
  PAIR,
  'users: [rt-pair-a, rt-pair-b]',
  `{ mode: sessions, clientName: ${CLIENT_NAME}, timeout: 2m }`,
)}${secretYaml(ROLLBACK, 'user: rt-rollback, createRules: "~rb:* +get +set"', '{ mode: manual, timeout: 3s }')}${secretYaml(
  LEAKED,
  'users: [rt-leak-a, rt-leak-b], createRules: "~leak:* +get +set"',
  '{ mode: manual, timeout: 2s }',
)}`;

describe('redis-acl rotation against the real stack', () => {
  let stack: TestStack;
  let root: RedisConnection;
  const opened: RedisConnection[] = [];
  /** Every password any version ever held, for the leak scan at the end. */
  const seenPasswords = new Set<string>();

  const endpoint = () => ({ host: stack.file.redis.host, port: stack.file.redis.port });
  const kv = async (id: string, version?: number): Promise<{ data: RedisCredential; version: number }> => {
    const read = await stack.rootVault.kvRead<RedisCredential>('rotor', `apps/${id}`, version);
    if (!read) throw new Error(`no version ${version ?? 'current'} of apps/${id}`);
    seenPasswords.add(read.data.password);
    return { data: read.data, version: read.metadata.version };
  };
  /** A real AUTH on a new connection, as a consumer would; false when Redis answers WRONGPASS. */
  const auths = async (cred: RedisCredential): Promise<boolean> => {
    try {
      (await connectAs(endpoint(), cred.username, cred.password)).destroy();
      return true;
    } catch (err) {
      if (isWrongPass(err)) return false;
      throw err;
    }
  };
  /** A consumer's long-lived client (named, as CLIENT SETNAME), closed at the end. */
  const consumerClient = async (cred: RedisCredential, name?: string) => {
    const client = createClient({
      socket: { ...endpoint(), reconnectStrategy: false },
      username: cred.username,
      password: cred.password,
      disableClientInfo: true,
      ...(name ? { name } : {}),
    });
    client.on('error', () => undefined);
    await client.connect();
    opened.push(client as unknown as RedisConnection);
    return client;
  };
  /** GET then SET under `prefix` as `cred`: what the application does with its credential. */
  const readsAndWrites = async (cred: RedisCredential, prefix: string): Promise<string | null> => {
    const c = await connectAs(endpoint(), cred.username, cred.password);
    try {
      const value = (await c.sendCommand(['GET', `${prefix}1`])) as string | null;
      await c.sendCommand(['SET', `${prefix}${cred.password.length}`, 'written']);
      return value;
    } finally {
      c.destroy();
    }
  };
  const getUser = async (user: string) => parseAclUser(await root.sendCommand(['ACL', 'GETUSER', user]));
  const clientsOf = async (user: string) =>
    parseClientList(String(await root.sendCommand(['CLIENT', 'LIST']))).filter((e) => e.user === user);
  const dryRun = async (user: string, ...command: string[]) => String(await root.sendCommand(['ACL', 'DRYRUN', user, ...command]));
  /** What a restart of Redis would load: its ACL file. */
  const aclFileText = async (): Promise<string> => {
    const aclFile = (await root.sendCommand(['CONFIG', 'GET', 'aclfile'])) as Record<string, string> | string[];
    return readFile(Array.isArray(aclFile) ? aclFile[1]! : aclFile.aclfile!, 'utf8');
  };
  const rejection = async (run: Promise<unknown>): Promise<Error> => {
    const err = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CredentialRejectedError);
    return err as Error;
  };
  const adminCredential = async () => (await stack.rootVault.kvRead<RedisAdmin>('rotor', DEMO_REDIS_ADMIN_PATH))!.data;

  beforeAll(async () => {
    stack = await startTestStack('redis', inventory);
    root = await connectAs({ host: stack.file.redis.host, port: stack.file.redis.port }, 'default', stack.file.redis.defaultPassword);
    // The applications' data and users, arranged as an operator would: rt-single and rt-pair-a
    // exist without a password (rotor gives them one; rt-single enabled, as rotor never enables a
    // single user, rt-pair-a disabled, as a standby is); rt-rollback and rt-leak-a rotor creates.
    await root.sendCommand(['ACL', 'DELUSER', 'rt-single', 'rt-pair-a', 'rt-pair-b', 'rt-rollback', 'rt-leak-a', 'rt-leak-b']);
    await root.sendCommand(['ACL', 'SETUSER', 'rt-single', 'on', '~app:*', '+get', '+set']);
    await root.sendCommand(['ACL', 'SETUSER', 'rt-pair-a', 'off', '~sess:*', '+get', '+set', '+ping']);
    for (const key of ['app:1', 'sess:1', 'rb:1', 'leak:1', 'other:1']) await root.sendCommand(['SET', key, `value of ${key}`]);
    for (const id of IDS) expect(await seed(stack, id)).toBe(1);
  });

  afterAll(async () => {
    for (const c of opened) c.destroy();
    root?.destroy();
    await stack?.close();
  });

  it('seeding gives each secret a password its user authenticates with and can use', async () => {
    const single = await kv(SINGLE, 1);
    expect(single.data).toMatchObject({ username: 'rt-single', host: stack.file.redis.host, port: String(stack.file.redis.port) });
    expect(await readsAndWrites(single.data, 'app:')).toBe('value of app:1');
    expect((await kv(PAIR, 1)).data.username).toBe('rt-pair-a');
    expect(await readsAndWrites((await kv(ROLLBACK, 1)).data, 'rb:')).toBe('value of rb:1'); // created with provider.createRules
    for (const id of IDS) expect(await auths((await kv(id, 1)).data)).toBe(true);
    expect(await getUser('rt-rollback')).toMatchObject({ keys: '~rb:*', flags: ['on'] });
  });

  it('one user: both passwords authenticate while awaiting confirmation; after it the new one reads and writes, the old one is refused', async () => {
    const before = await kv(SINGLE);
    const handle = await startRotation(stack, SINGLE);
    const waiting = await waitForStatus(stack, handle.workflowId, (s) => s.phase === 'awaiting_confirmation');
    expect(waiting).toMatchObject({ fromVersion: 1, toVersion: 2 });
    const promoted = await kv(SINGLE);
    expect(promoted.version).toBe(2);
    expect(promoted.data.username).toBe('rt-single');
    expect(promoted.data.password).not.toBe(before.data.password);
    // One user, two passwords: both log in and do the same.
    expect(await auths(before.data)).toBe(true);
    expect(await auths(promoted.data)).toBe(true);
    expect((await getUser('rt-single'))?.passwords).toHaveLength(2);
    expect(await readsAndWrites(promoted.data, 'app:')).toBe('value of app:1');

    await handle.executeUpdate('confirmCutover', {
      args: [{ consumer: 'cache-app', version: waiting.toVersion, identity: await identityToken(stack.file, 'alice') }],
    });
    const result = (await handle.result()) as RotationResult;
    expect(result, JSON.stringify(result)).toMatchObject({ outcome: 'rotated', fromVersion: 1, toVersion: 2 });

    const after = await kv(SINGLE);
    expect(after.version).toBe(2);
    expect(await auths(after.data)).toBe(true);
    expect(await readsAndWrites(after.data, 'app:')).toBe('value of app:1');
    expect(await auths(before.data)).toBe(false);
    expect((await getUser('rt-single'))?.passwords).toHaveLength(1);
    expect(await stack.rootVault.kvList('rotor', `_rotor/pending/${SINGLE}/`)).toEqual([]);
  });

  it("alternating users: the standby gets the active user's rules; an idle or old client does not confirm, moving the client to the new user does", async () => {
    const before = await kv(PAIR);
    expect(before.data.username).toBe('rt-pair-a');
    const oldClient = await consumerClient(before.data, CLIENT_NAME);
    expect(await oldClient.get('sess:1')).toBe('value of sess:1');

    const handle = await startRotation(stack, PAIR);
    const waiting = await waitForStatus(stack, handle.workflowId, (s) => s.phase === 'awaiting_confirmation');
    expect(waiting).toMatchObject({ fromVersion: 1, toVersion: 2 });
    const promoted = await kv(PAIR);
    expect(promoted.data.username).toBe('rt-pair-b');
    expect(await auths(before.data)).toBe(true);
    expect(await auths(promoted.data)).toBe(true);

    // Same privileges, at the server: the same rules, the same answers to what is allowed and what is not.
    const [a, b] = [await getUser('rt-pair-a'), await getUser('rt-pair-b')];
    expect({ commands: b?.commands, keys: b?.keys, channels: b?.channels }).toEqual({
      commands: a?.commands,
      keys: a?.keys,
      channels: a?.channels,
    });
    for (const command of [
      ['get', 'sess:1'],
      ['set', 'sess:9', 'x'],
      ['get', 'other:1'],
      ['del', 'sess:1'],
    ])
      expect(await dryRun('rt-pair-b', ...command)).toBe(await dryRun('rt-pair-a', ...command));
    expect(await dryRun('rt-pair-b', 'get', 'other:1')).not.toBe('OK');
    expect(await readsAndWrites(promoted.data, 'sess:')).toBe('value of sess:1');

    // Only the old user's client is connected: no session of the new credential, so no confirmation.
    await new Promise((r) => setTimeout(r, 3000));
    expect((await handle.query(statusQuery)).phase).toBe('awaiting_confirmation');
    // The consumer reconnects with the new credential, but its old client is still there.
    const newClient = await consumerClient(promoted.data, CLIENT_NAME);
    expect(await newClient.get('sess:1')).toBe('value of sess:1');
    await new Promise((r) => setTimeout(r, 2000));
    expect((await handle.query(statusQuery)).phase).toBe('awaiting_confirmation');
    // The old client goes: observed cutover.
    oldClient.destroy();
    const result = (await handle.result()) as RotationResult;
    expect(result, JSON.stringify(result)).toMatchObject({ outcome: 'rotated', fromVersion: 1, toVersion: 2 });

    expect(await auths(before.data)).toBe(false);
    expect(await auths(promoted.data)).toBe(true);
    expect(await newClient.get('sess:1')).toBe('value of sess:1'); // untouched by the revocation
    expect(await getUser('rt-pair-a')).toMatchObject({ flags: expect.arrayContaining(['off']), passwords: [] });
  });

  it('rollback: nobody confirms, version 1 is current again and authenticates, the attempted password is refused', async () => {
    const before = await kv(ROLLBACK);
    const result = await rotate(stack, ROLLBACK);
    expect(result, JSON.stringify(result)).toMatchObject({
      outcome: 'rolled_back',
      fromVersion: 1,
      attemptedVersion: 2,
      restoredVersion: 3,
      failedPhase: 'awaiting_confirmation',
    });
    const attempted = await kv(ROLLBACK, 2);
    expect(attempted.data.password).not.toBe(before.data.password);
    const current = await kv(ROLLBACK);
    expect(current.version).toBe(3);
    expect(current.data).toEqual(before.data);
    expect(await auths(before.data)).toBe(true);
    expect(await readsAndWrites(before.data, 'rb:')).toBe('value of rb:1');
    expect(await auths(attempted.data)).toBe(false);
    expect((await getUser('rt-rollback'))?.passwords).toHaveLength(1);
  });

  it("emergency revocation (revokeAll, incident responder): the old password is refused and the user's live client is killed", async () => {
    const before = await kv(LEAKED);
    expect(before.data.username).toBe('rt-leak-a');
    const attacker = await consumerClient(before.data);
    expect(await attacker.get('leak:1')).toBe('value of leak:1');
    expect(await clientsOf('rt-leak-a')).toHaveLength(1);

    const incidentId = 'inc-redis-leak';
    const report = await runIncident(stack, { incidentId, reason: 'redis password in a public paste', secretIds: [LEAKED], by: 'alice' });
    expect(report.secrets[0]).toMatchObject({ secretId: LEAKED, status: 'done', fromVersion: 1, toVersion: 2 });
    expect(await auths(before.data)).toBe(false);
    expect(await clientsOf('rt-leak-a')).toHaveLength(0); // killed at the server, not merely unlisted
    await expect(attacker.get('leak:1')).rejects.toThrow();
    const now = await kv(LEAKED);
    expect(now.data.username).toBe('rt-leak-b');
    expect(await readsAndWrites(now.data, 'leak:')).toBe('value of leak:1');
    await liftFreeze(stack, incidentId, 'carol');
  });

  it('a retried apply changes nothing; a missing user without provider.createRules is refused, naming the field', async () => {
    const admin = (await stack.rootVault.kvRead<RedisAdmin>('rotor', DEMO_REDIS_ADMIN_PATH))!.data;
    const caches = new ProviderCaches();
    try {
      // The pair after its rotation: rt-pair-b is live, rt-pair-a the standby.
      const pair = redisProvider({ type: 'redis-acl', adminPath: DEMO_REDIS_ADMIN_PATH, users: ['rt-pair-a', 'rt-pair-b'] }, admin, caches);
      const next = await pair.source.generate((await kv(PAIR)).data);
      expect(next.username).toBe('rt-pair-a');
      await pair.source.apply(next);
      const once = await getUser('rt-pair-a');
      await pair.source.apply(next); // the retry
      expect(await getUser('rt-pair-a')).toEqual(once);
      expect(once?.passwords).toHaveLength(1);
      await pair.test(next);
      await pair.revoke(next, { terminateSessions: false });
      expect(await pair.isRevoked(next)).toBe(true);
      expect(await auths((await kv(PAIR)).data)).toBe(true);

      const missing = redisProvider({ type: 'redis-acl', adminPath: DEMO_REDIS_ADMIN_PATH, user: 'rt-nobody' }, admin, caches);
      const err = await missing.source.apply(await missing.source.generate(undefined)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CredentialRejectedError);
      expect((err as Error).message).toMatch(/^provider\.createRules: ACL user "rt-nobody" does not exist/);
      expect(await getUser('rt-nobody')).toBeUndefined();
    } finally {
      await caches.close();
    }
  });

  it('an operator who disabled the user (incident containment) is never overridden: pre-check and apply refuse, nothing changes', async () => {
    const caches = new ProviderCaches();
    try {
      const single = redisProvider(
        { type: 'redis-acl', adminPath: DEMO_REDIS_ADMIN_PATH, user: 'rt-single' },
        await adminCredential(),
        caches,
      );
      const current = (await kv(SINGLE)).data;
      await root.sendCommand(['ACL', 'SETUSER', 'rt-single', 'off']);
      const before = await getUser('rt-single');
      expect((await rejection(single.precheck!(current))).message).toMatch(
        /^ACL user "rt-single" is disabled \(off\) at .*rotor will not enable it/,
      );
      const next = await single.source.generate(current);
      await rejection(single.source.apply(next));
      expect(await getUser('rt-single')).toEqual(before); // still off, no new password
      expect(await auths(current)).toBe(false);
      expect(await auths(next)).toBe(false);
    } finally {
      await root.sendCommand(['ACL', 'SETUSER', 'rt-single', 'on']);
      await root.sendCommand(['ACL', 'SAVE']);
      await caches.close();
    }
    expect(await auths((await kv(SINGLE)).data)).toBe(true);
  });

  it('alternating users: the standby copies the rules of a disabled active user, and test compares with it', async () => {
    const caches = new ProviderCaches();
    const pair = redisProvider(
      { type: 'redis-acl', adminPath: DEMO_REDIS_ADMIN_PATH, users: ['rt-pair-a', 'rt-pair-b'] },
      await adminCredential(),
      caches,
    );
    const current = (await kv(PAIR)).data;
    expect(current.username).toBe('rt-pair-b');
    const activeKeys = (await getUser('rt-pair-b'))!.keys;
    try {
      // rt-pair-b contained by an operator; rt-pair-a, the standby, holds rules from another time.
      await root.sendCommand(['ACL', 'SETUSER', 'rt-pair-b', 'off']);
      await root.sendCommand(['ACL', 'SETUSER', 'rt-pair-a', 'resetkeys', '~stale:*']);
      await pair.precheck!(current);
      const next = await pair.source.generate(current);
      expect(next.username).toBe('rt-pair-a');
      await pair.source.apply(next);
      expect((await getUser('rt-pair-a'))?.keys).toBe(activeKeys);
      expect(await readsAndWrites(next, 'sess:')).toBe('value of sess:1');
      await pair.test(next);
      // Someone narrows the new user's rules: the disabled active user could do more, so test refuses.
      await root.sendCommand(['ACL', 'SETUSER', 'rt-pair-a', 'resetkeys', '~other:*']);
      expect((await rejection(pair.test(next))).message).toMatch(/ACL user "rt-pair-a" cannot do exactly what "rt-pair-b" can \(keys/);
      await pair.revoke(next, { terminateSessions: false });
      expect(await pair.isRevoked(next)).toBe(true);
    } finally {
      await root.sendCommand(['ACL', 'SETUSER', 'rt-pair-a', 'resetkeys', activeKeys]);
      await root.sendCommand(['ACL', 'SETUSER', 'rt-pair-b', 'on']);
      await root.sendCommand(['ACL', 'SAVE']);
      await caches.close();
    }
    expect(await auths(current)).toBe(true);
  });

  it('a revocation retried after its ACL SAVE failed finds the password gone and still removes it from the ACL file', async () => {
    const caches = new ProviderCaches();
    try {
      const pair = redisProvider(
        { type: 'redis-acl', adminPath: DEMO_REDIS_ADMIN_PATH, users: ['rt-pair-a', 'rt-pair-b'] },
        await adminCredential(),
        caches,
      );
      const next = await pair.source.generate((await kv(PAIR)).data);
      const hash = passwordHash(next.password);
      await pair.source.apply(next);
      expect(await aclFileText()).toContain(`#${hash}`); // apply saved
      // The first attempt's SETUSER took effect in memory; its ACL SAVE did not.
      await root.sendCommand(['ACL', 'SETUSER', 'rt-pair-a', `!${hash}`, 'off']);
      expect(await auths(next)).toBe(false);
      expect(await aclFileText()).toContain(`#${hash}`); // a restart would let it in again
      await pair.revoke(next, { terminateSessions: false }); // the retry
      expect(await aclFileText()).not.toContain(`#${hash}`);
      expect(await pair.isRevoked(next)).toBe(true);
    } finally {
      await caches.close();
    }
  });

  it('an admin user lacking a permission, and a rule Redis refuses, fail for good and name the field to fix', async () => {
    const caches = new ProviderCaches();
    const admin = await adminCredential();
    const weakPassword = 'weak-admin-password-0123456789';
    try {
      await root.sendCommand([
        'ACL',
        'SETUSER',
        'rt-weak-admin',
        'reset',
        'on',
        `#${passwordHash(weakPassword)}`,
        '+acl|getuser',
        '+acl|setuser',
      ]);
      const weak = redisProvider(
        { type: 'redis-acl', adminPath: '_rotor/admin/weak-redis', user: 'rt-made', createRules: '~made:* +get' },
        { ...admin, username: 'rt-weak-admin', password: weakPassword },
        caches,
      );
      const noperm = await rejection(weak.source.apply(await weak.source.generate(undefined)));
      expect(noperm.message).toMatch(
        /^provider\.adminPath: the admin user "rt-weak-admin" \(_rotor\/admin\/weak-redis\) lacks a permission/,
      );
      expect(noperm.message).toContain('+acl|save');
      expect(noperm.message).not.toContain(weakPassword);

      const badRule = redisProvider(
        { type: 'redis-acl', adminPath: DEMO_REDIS_ADMIN_PATH, user: 'rt-made', createRules: '~made:* +nosuchcommand' },
        admin,
        caches,
      );
      const refused = await rejection(badRule.source.apply(await badRule.source.generate(undefined)));
      expect(refused.message).toMatch(/refused an ACL rule .*'\+nosuchcommand'.*correct provider\.createRules/);
      expect(await getUser('rt-made')).toBeUndefined(); // all modifiers or none
    } finally {
      await root.sendCommand(['ACL', 'DELUSER', 'rt-weak-admin', 'rt-made']);
      await root.sendCommand(['ACL', 'SAVE']);
      await caches.close();
    }
  });

  it('a Redis whose users live in redis.conf (no ACL file) is refused at pre-check and apply before anything changes', async () => {
    const port = await new Promise<number>((resolve, reject) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
      probe.on('error', reject);
    });
    const adminPassword = 'conf-admin-password-0123456789';
    const appPassword = 'conf-app-password-0123456789';
    // The stack's own binary is found the same way (stack/tools.ts: redis-server on PATH).
    const binary = 'redis-server';
    // Users as redis.conf lines (here on the command line): what the ACL file would otherwise hold.
    const server = spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--logfile',
        '',
        '--user',
        DEMO_REDIS_ADMIN_USER,
        'on',
        `#${passwordHash(adminPassword)}`,
        ...REDIS_ADMIN_RULES,
        '--user',
        'rt-conf',
        'on',
        `#${passwordHash(appPassword)}`,
        '~app:*',
        '+get',
      ],
      { stdio: 'ignore' },
    );
    const caches = new ProviderCaches();
    try {
      const at = { host: '127.0.0.1', port };
      let admin: RedisConnection | undefined;
      for (let i = 0; i < 50 && !admin; i++)
        admin = await connectAs(at, DEMO_REDIS_ADMIN_USER, adminPassword).catch(async () => {
          await new Promise((r) => setTimeout(r, 100));
          return undefined;
        });
      expect(admin, `the redis.conf-only Redis started (exit code ${server.exitCode})`).toBeDefined();
      const getConfUser = async () => parseAclUser(await admin!.sendCommand(['ACL', 'GETUSER', 'rt-conf']));
      const before = await getConfUser();
      const provider = redisProvider(
        { type: 'redis-acl', adminPath: DEMO_REDIS_ADMIN_PATH, user: 'rt-conf' },
        { username: DEMO_REDIS_ADMIN_USER, password: adminPassword, host: at.host, port: String(port) },
        caches,
      );
      const current: RedisCredential = { username: 'rt-conf', password: appPassword, host: at.host, port: String(port) };
      const message = (await rejection(provider.precheck!(current))).message;
      expect(message).toMatch(/keeps its ACL users in redis\.conf, not in an ACL file .*configure an ACL file \(the aclfile directive/);
      await rejection(provider.source.apply(await provider.source.generate(current)));
      expect(await getConfUser()).toEqual(before); // no second password that a restart would drop
      admin!.destroy();
    } finally {
      await caches.close();
      server.kill();
    }
  });

  it('the stack bootstrap rewrites the admin credential in Vault when Redis moved to another port, keeping its password', async () => {
    const before = await adminCredential();
    try {
      // As after ROTOR_REDIS_PORT changed: Vault still names the old port.
      await stack.rootVault.kvWrite('rotor', DEMO_REDIS_ADMIN_PATH, { ...before, port: String(Number(before.port) + 1) });
      const server = {
        host: stack.file.redis.host,
        port: stack.file.redis.port,
        defaultPassword: stack.file.redis.defaultPassword,
      } as RedisServer;
      await bootstrapRedis(server, stack.file.env.ROTOR_VAULT_ADDR!, stack.file.vaultRootToken);
      const after = await adminCredential();
      expect(after).toEqual({ ...before, port: String(stack.file.redis.port) });
      const admin = await connectAs(endpoint(), after.username, after.password); // the password Redis was given is Vault's
      admin.destroy();
    } finally {
      if ((await adminCredential()).port !== before.port) await stack.rootVault.kvWrite('rotor', DEMO_REDIS_ADMIN_PATH, { ...before });
    }
  });

  it('no password appears in workflow history, worker logs, audit rows or the ACL file', async () => {
    for (const id of IDS) {
      const meta = await stack.rootVault.kvMetadata('rotor', `apps/${id}`);
      for (let v = 1; v <= (meta?.current_version ?? 0); v++) await kv(id, v);
    }
    expect(seenPasswords.size).toBe(8); // v1 and v2 of each secret
    const haystack = await leakHaystack(stack, {
      workflowIds: [...seedAndRotationIds(stack, IDS), incidentWorkflowId('inc-redis-leak')],
      secretIds: IDS,
    });
    expect(haystack).toContain(ROLLBACK); // the scan sees real content
    expect(haystack).toContain('awaiting_confirmation');
    for (const value of seenPasswords) expect(haystack.includes(value), 'a password leaked').toBe(false);

    // Redis keeps ACL users in its file (ACL SAVE after every change): hashes, never a password.
    const aclFile = (await root.sendCommand(['CONFIG', 'GET', 'aclfile'])) as Record<string, string> | string[];
    const path = Array.isArray(aclFile) ? aclFile[1]! : aclFile.aclfile!;
    const acl = await readFile(path, 'utf8');
    expect(acl).toContain('user rt-pair-b on #');
    expect(acl).toContain('user rt-single on #');
    for (const value of seenPasswords) expect(acl.includes(value), 'a password in the ACL file').toBe(false);
  });
});

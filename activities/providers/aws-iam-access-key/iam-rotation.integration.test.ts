import { randomUUID } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListUserTagsCommand,
  ListUsersCommand,
  PutUserPolicyCommand,
  TagUserCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_IAM_ADMIN_PATH, renewIamSecret } from '../../../stack/bootstrap-iam.js';
import { readStackFile } from '../../../stack/up.js';
import { liftFreeze, runIncident } from '../../../test/helpers/incident.js';
import { identityToken } from '../../../test/helpers/operators.js';
import { leakHaystack, seedAndRotationIds } from '../../../test/helpers/leak-scan.js';
import { rotate, seed, startRotation, waitForStatus } from '../../../test/helpers/rotation-fixtures.js';
import { startTestStack, type TestStack } from '../../../test/helpers/test-stack.js';
import { incidentWorkflowId, rotationWorkflowId, statusQuery } from '../../../workflows/contracts.js';
import type { RotationResult } from '../../../workflows/rotation-types.js';
import { formatMarker } from './mint-marker.js';
import { iamProvider, MINT_MARKER, type IamAdmin, type IamProviderOptions } from './provider.js';
import { iamCredential, iamSpec, type IamCredential } from './schema.js';

/** Unique per run, in case the stack outlives one run (moto forgets users only when it restarts). */
const RUN = randomUUID().slice(0, 6);
const SECRETS = {
  rotate: { id: `iam-rotate-${RUN}`, user: `it-rotate-${RUN}`, confirmTimeout: '2m' },
  rollback: { id: `iam-rollback-${RUN}`, user: `it-rollback-${RUN}`, confirmTimeout: '3s' },
  limit: { id: `iam-limit-${RUN}`, user: `it-limit-${RUN}`, confirmTimeout: '2m' },
  leaked: { id: `iam-leaked-${RUN}`, user: `it-leaked-${RUN}`, confirmTimeout: '2s' },
} as const;
/** Driven through the provider directly (an interrupted mint cannot be staged through a workflow). */
const CRASH_USER = `it-crash-${RUN}`;
/** A crashed mint's marker, then an operator's key made minutes later (the review's scenario). */
const OPS_USER = `it-ops-${RUN}`;
/** CreateAccessKey answered too late (the key exists, the answer is lost), at seeding. */
const SLOW_USER = `it-slow-${RUN}`;
/** The stack's re-seeding of a demo IAM secret (bootstrap-iam.ts), on a user and path of its own. */
const RENEW_USER = `it-renew-${RUN}`;
/** What every test user may do besides sts:GetCallerIdentity: a call rotor's admin key may not make. */
const USER_POLICY = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['iam:ListUsers'], Resource: '*' }] });

type Key = { accessKeyId: string; secretAccessKey: string };

describe('aws-iam-access-key rotation against moto (authentication on)', () => {
  let stack: TestStack;
  /** Every secret access key seen, for the leak scan at the end. */
  const seenSecrets = new Set<string>();

  const inventory = (iam: { endpoint: string; region: string }, deleteInactiveKey: boolean) =>
    `secrets:\n${Object.values(SECRETS)
      .map(
        (s) => `  - id: ${s.id}
    path: apps/${s.id}
    owner: team-billing
    tags: [test]
    provider:
      type: aws-iam-access-key
      adminPath: ${DEMO_IAM_ADMIN_PATH}
      userName: ${s.user}
      endpoint: ${iam.endpoint}
      region: ${iam.region}
      deleteInactiveKey: ${s === SECRETS.limit && deleteInactiveKey}
    overlap: 1s
    consumers:
      - name: billing
        confirm: { mode: manual, timeout: ${s.confirmTimeout} }
`,
      )
      .join('')}`;

  /** A copy of the key each time: the SDK writes into the credentials object it is given. */
  const sdkOptions = (key: Key) => ({
    region: stack.file.iam.region,
    endpoint: stack.file.iam.endpoint,
    credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
    maxAttempts: 1,
  });

  /** An SDK client signed with `key`, destroyed after `use`. */
  async function withIam<T>(key: Key, use: (iam: IAMClient) => Promise<T>): Promise<T> {
    const iam = new IAMClient(sdkOptions(key));
    try {
      return await use(iam);
    } finally {
      iam.destroy();
    }
  }
  const asRoot = <T>(use: (iam: IAMClient) => Promise<T>) => withIam(stack.file.iam.root, use);

  /** A signed sts:GetCallerIdentity: the caller's ARN, or the error code moto refused the key with. */
  async function whoAmI(key: Key): Promise<{ arn: string } | { refused: string }> {
    const sts = new STSClient(sdkOptions(key));
    try {
      return { arn: (await sts.send(new GetCallerIdentityCommand({}))).Arn ?? '' };
    } catch (err) {
      return { refused: (err as Error).name };
    } finally {
      sts.destroy();
    }
  }
  /** The key authenticates as `user` and can do what the user may (iam:ListUsers), with a real signed call each. */
  async function works(key: Key, user: string): Promise<boolean> {
    const who = await whoAmI(key);
    if (!('arn' in who) || !who.arn.endsWith(`:user/${user}`)) return false;
    return withIam(key, async (iam) => ((await iam.send(new ListUsersCommand({}))).Users?.length ?? 0) > 0);
  }
  /** moto refuses a request signed with the key (the key is unknown to it). */
  async function refused(key: Key): Promise<boolean> {
    const who = await whoAmI(key);
    return 'refused' in who && who.refused === 'InvalidClientTokenId';
  }
  const keysOf = async (user: string) =>
    (await asRoot((iam) => iam.send(new ListAccessKeysCommand({ UserName: user })))).AccessKeyMetadata?.map((k) => ({
      id: k.AccessKeyId,
      status: k.Status,
    })) ?? [];
  const createKey = async (user: string): Promise<Key> => {
    const key = (await asRoot((iam) => iam.send(new CreateAccessKeyCommand({ UserName: user })))).AccessKey!;
    seenSecrets.add(key.SecretAccessKey!);
    return { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
  };

  const tagMarker = (user: string, value: string) =>
    asRoot((iam) => iam.send(new TagUserCommand({ UserName: user, Tags: [{ Key: MINT_MARKER, Value: value }] })));
  const markerOf = async (user: string) =>
    (await asRoot((iam) => iam.send(new ListUserTagsCommand({ UserName: user })))).Tags?.find((t) => t.Key === MINT_MARKER)?.Value;

  /** The aws-iam-access-key provider of `user` signed with rotor's admin key, and its mint(). */
  async function providerOf(user: string, endpoint = stack.file.iam.endpoint, options: IamProviderOptions = {}) {
    const admin = (await stack.rootVault.kvRead<IamAdmin>('rotor', DEMO_IAM_ADMIN_PATH))!.data;
    const provider = iamProvider(
      iamSpec.parse({ type: 'aws-iam-access-key', adminPath: DEMO_IAM_ADMIN_PATH, userName: user, endpoint }),
      admin,
      options,
    );
    if (provider.source.kind !== 'mint') throw new Error('aws-iam-access-key must mint');
    return { provider, mint: provider.source.mint.bind(provider.source) };
  }

  const kvAt = async (path: string, version?: number): Promise<{ data: IamCredential; version: number }> => {
    const read = await stack.rootVault.kvRead<IamCredential>('rotor', path, version);
    if (!read) throw new Error(`no version ${version ?? 'current'} of ${path}`);
    seenSecrets.add(read.data.secretAccessKey);
    return { data: read.data, version: read.metadata.version };
  };
  const kvVersion = (secretId: string, version?: number) => kvAt(`apps/${secretId}`, version);

  async function confirm(secretId: string) {
    const handle = stack.client.workflow.getHandle(rotationWorkflowId(secretId));
    const waiting = await waitForStatus(stack, handle.workflowId, (s) => s.phase === 'awaiting_confirmation');
    await handle.executeUpdate('confirmCutover', {
      args: [{ consumer: 'billing', version: waiting.toVersion, identity: await identityToken(stack.file, 'alice') }],
    });
    return (await handle.result()) as RotationResult;
  }

  beforeAll(async () => {
    const file = await readStackFile('test');
    stack = await startTestStack('iam', inventory(file.iam, false));
    for (const user of [...Object.values(SECRETS).map((s) => s.user), CRASH_USER, OPS_USER, SLOW_USER, RENEW_USER]) {
      await asRoot(async (iam) => {
        await iam.send(new CreateUserCommand({ UserName: user }));
        await iam.send(new PutUserPolicyCommand({ UserName: user, PolicyName: 'list-users', PolicyDocument: USER_POLICY }));
      });
    }
    for (const s of Object.values(SECRETS)) expect(await seed(stack, s.id)).toBe(1);
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('moto checks signatures and policies: a wrong secret and a missing permission are refused', async () => {
    const root = stack.file.iam.root;
    expect(await whoAmI({ ...root, secretAccessKey: 'not-the-secret-of-this-key' })).toEqual({ refused: 'SignatureDoesNotMatch' });
    expect(await whoAmI({ accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: 'whatever-secret' })).toEqual({
      refused: 'InvalidClientTokenId',
    });
    const admin = (await stack.rootVault.kvRead<Key>('rotor', DEMO_IAM_ADMIN_PATH))!.data;
    seenSecrets.add(admin.secretAccessKey);
    // rotor's admin key may manage keys but not list users.
    await expect(withIam(admin, (iam) => iam.send(new ListUsersCommand({})))).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('seeding mints the first key and stages it in Vault: the key exists at moto and works', async () => {
    for (const s of Object.values(SECRETS)) {
      const v1 = await kvVersion(s.id, 1);
      expect(v1.data).toMatchObject({ userName: s.user, region: 'us-east-1', endpoint: stack.file.iam.endpoint });
      expect(await keysOf(s.user)).toEqual([{ id: v1.data.accessKeyId, status: 'Active' }]);
      expect(await works(v1.data, s.user)).toBe(true);
    }
  });

  it('rotation: both keys work while awaiting confirmation; after it the new key works and the old one is deleted and refused', async () => {
    const s = SECRETS.rotate;
    const before = await kvVersion(s.id);
    expect(before.version).toBe(1);
    const handle = await startRotation(stack, s.id);
    const waiting = await waitForStatus(stack, handle.workflowId, (st) => st.phase === 'awaiting_confirmation');
    expect(waiting).toMatchObject({ fromVersion: 1, toVersion: 2 });

    const promoted = await kvVersion(s.id);
    expect(promoted.version).toBe(2);
    expect(promoted.data.accessKeyId).not.toBe(before.data.accessKeyId);
    expect(await works(before.data, s.user)).toBe(true);
    expect(await works(promoted.data, s.user)).toBe(true);
    expect(await keysOf(s.user)).toHaveLength(2);
    expect((await handle.query(statusQuery)).phase).toBe('awaiting_confirmation');

    const result = await confirm(s.id);
    expect(result, JSON.stringify(result)).toMatchObject({ outcome: 'rotated', fromVersion: 1, toVersion: 2 });
    const after = await kvVersion(s.id);
    expect(after).toEqual(promoted);
    expect(await works(after.data, s.user)).toBe(true); // the same privileges: iam:ListUsers as before
    expect(await refused(before.data)).toBe(true);
    expect(await keysOf(s.user)).toEqual([{ id: after.data.accessKeyId, status: 'Active' }]);
    expect(await stack.rootVault.kvList('rotor', `_rotor/pending/${s.id}/`)).toEqual([]);
  });

  it('rollback: nobody confirms; version 1 is current again and works, the minted key is deleted and refused', async () => {
    const s = SECRETS.rollback;
    const before = await kvVersion(s.id);
    const result = await rotate(stack, s.id);
    expect(result, JSON.stringify(result)).toMatchObject({
      outcome: 'rolled_back',
      fromVersion: 1,
      attemptedVersion: 2,
      restoredVersion: 3,
      failedPhase: 'awaiting_confirmation',
    });
    const attempted = await kvVersion(s.id, 2);
    expect(attempted.data.accessKeyId).not.toBe(before.data.accessKeyId);
    const current = await kvVersion(s.id);
    expect(current.version).toBe(3);
    expect(current.data).toEqual(before.data);
    expect(await works(current.data, s.user)).toBe(true);
    expect(await refused(attempted.data)).toBe(true);
    expect(await keysOf(s.user)).toEqual([{ id: before.data.accessKeyId, status: 'Active' }]);
  });

  it('two-key limit: an Inactive extra key is deleted only with deleteInactiveKey; without it nothing changes', async () => {
    const s = SECRETS.limit;
    const before = await kvVersion(s.id);
    const extra = await createKey(s.user);
    await asRoot((iam) => iam.send(new UpdateAccessKeyCommand({ UserName: s.user, AccessKeyId: extra.accessKeyId, Status: 'Inactive' })));
    const keysBefore = await keysOf(s.user);
    expect(keysBefore).toHaveLength(2);

    const refusedRun = await rotate(stack, s.id);
    expect(refusedRun, JSON.stringify(refusedRun)).toMatchObject({ outcome: 'aborted', failedPhase: 'prechecks' });
    expect((refusedRun as { reason: string }).reason).toContain('provider.deleteInactiveKey');
    expect(await keysOf(s.user)).toEqual(keysBefore);
    expect((await kvVersion(s.id)).version).toBe(1);
    expect(await works(before.data, s.user)).toBe(true);

    await stack.writeInventory(inventory(stack.file.iam, true));
    await startRotation(stack, s.id);
    const result = await confirm(s.id);
    expect(result, JSON.stringify(result)).toMatchObject({ outcome: 'rotated', fromVersion: 1, toVersion: 2 });
    const after = await kvVersion(s.id);
    expect(await keysOf(s.user)).toEqual([{ id: after.data.accessKeyId, status: 'Active' }]); // the inactive key and version 1's are gone
    expect(await works(after.data, s.user)).toBe(true);
    expect(await refused(before.data)).toBe(true);
    expect(await refused(extra)).toBe(true);
  });

  it('a key left by an interrupted mint is recognised and deleted; a key somebody else made is never touched', async () => {
    const admin = (await stack.rootVault.kvRead<IamAdmin>('rotor', DEMO_IAM_ADMIN_PATH))!.data;
    const spec = iamSpec.parse({
      type: 'aws-iam-access-key',
      adminPath: DEMO_IAM_ADMIN_PATH,
      userName: CRASH_USER,
      endpoint: stack.file.iam.endpoint,
    });
    const provider = iamProvider(spec, admin);
    if (provider.source.kind !== 'mint') throw new Error('aws-iam-access-key must mint');
    const mint = provider.source.mint.bind(provider.source);
    try {
      const current: IamCredential = { ...(await createKey(CRASH_USER)), userName: CRASH_USER };
      // A worker died between CreateAccessKey and staging: rotor's marker (naming the keys the user
      // had then) is on the user, the key's secret is lost.
      await tagMarker(CRASH_USER, formatMarker({ at: Date.now(), keysBefore: [current.accessKeyId] }));
      const orphan = await createKey(CRASH_USER);
      await provider.precheck!(current);
      let staged: IamCredential | undefined;
      await mint(current, async (c) => {
        staged = c;
        seenSecrets.add(c.secretAccessKey);
      });
      expect(staged).toBeDefined();
      expect(await refused(orphan)).toBe(true);
      expect((await keysOf(CRASH_USER)).map((k) => k.id).sort()).toEqual([current.accessKeyId, staged!.accessKeyId].sort());
      expect(await markerOf(CRASH_USER)).toBeUndefined(); // staged: the marker is gone
      await provider.test(staged!);

      // Vault refuses the staged write: the minted key is deleted before the error is passed on.
      await provider.revoke(staged!, { terminateSessions: false });
      expect(await provider.isRevoked(staged!)).toBe(true);
      let unstaged: IamCredential | undefined;
      await expect(
        mint(current, async (c) => {
          unstaged = c;
          seenSecrets.add(c.secretAccessKey);
          throw new Error('vault is sealed');
        }),
      ).rejects.toThrow('vault is sealed');
      expect(await refused(unstaged!)).toBe(true);
      expect(await keysOf(CRASH_USER)).toEqual([{ id: current.accessKeyId, status: 'Active' }]);

      // Somebody's own Active key (no marker of rotor's): refused, named, left alone.
      const theirs = await createKey(CRASH_USER);
      await expect(provider.precheck!(current)).rejects.toThrow(/someone else's key/);
      await expect(mint(current, async () => undefined)).rejects.toThrow(/someone else's key/);
      expect(await keysOf(CRASH_USER)).toHaveLength(2);
      expect(await works(theirs, CRASH_USER)).toBe(true);
    } finally {
      await provider.close();
    }
  });

  it("review scenario: a marker left by a crash hours ago does not make an operator's new unused key rotor's; it is cleared", async () => {
    const { provider, mint } = await providerOf(OPS_USER);
    try {
      const current: IamCredential = { ...(await createKey(OPS_USER)), userName: OPS_USER };
      // R1 set the marker and staged its key, then died before UntagUser (its retry returns early and
      // never comes back to the provider). The first release's marker: a bare time, minutes old.
      await tagMarker(OPS_USER, new Date(Date.now() - 5 * 60_000).toISOString());
      const ops = await createKey(OPS_USER); // the operator's key for a nightly job, unused yet
      await expect(provider.precheck!(current)).rejects.toThrow(/someone else's key.*aws iam delete-access-key --user-name/);
      expect(await markerOf(OPS_USER)).toBeUndefined(); // stale: cleared when seen
      expect(await works(ops, OPS_USER)).toBe(true);

      // This release's marker, minutes old, listing the keys the user had: the same verdict.
      await tagMarker(OPS_USER, formatMarker({ at: Date.now() - 5 * 60_000, keysBefore: [current.accessKeyId] }));
      await expect(mint(current, async () => undefined)).rejects.toThrow(/someone else's key/);
      expect(await markerOf(OPS_USER)).toBeUndefined();

      // A fresh marker that lists the operator's key (it was there before the mint began): never rotor's.
      const fresh = formatMarker({ at: Date.now(), keysBefore: [current.accessKeyId, ops.accessKeyId] });
      await tagMarker(OPS_USER, fresh);
      await expect(mint(current, async () => undefined)).rejects.toThrow(/someone else's key/);
      expect(await markerOf(OPS_USER)).toBe(fresh); // not stale: a mint may still need it
      expect((await keysOf(OPS_USER)).map((k) => k.id).sort()).toEqual([current.accessKeyId, ops.accessKeyId].sort());
      expect(await works(ops, OPS_USER)).toBe(true);
    } finally {
      await provider.close();
    }
  });

  it('CreateAccessKey answered too late is not sent again; the key it made is recognised at the next attempt, with one key only', async () => {
    // Between rotor and moto: forwards everything, but holds CreateAccessKey's answer past rotor's timeout.
    const moto = new URL(stack.file.iam.endpoint);
    let creates = 0;
    const proxy: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const isCreate = body.toString().includes('Action=CreateAccessKey');
        if (isCreate) creates++;
        const upstream = request(
          { host: moto.hostname, port: moto.port, method: req.method, path: req.url, headers: req.headers },
          (answer) => {
            const parts: Buffer[] = [];
            answer.on('data', (c: Buffer) => parts.push(c));
            answer.on('end', () => {
              const send = () => {
                if (res.destroyed) return;
                res.writeHead(answer.statusCode ?? 502, answer.headers);
                res.end(Buffer.concat(parts));
              };
              if (isCreate) setTimeout(send, 2_500);
              else send();
            });
          },
        );
        upstream.on('error', () => res.destroy());
        upstream.end(body);
      });
      res.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const slowEndpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const slow = await providerOf(SLOW_USER, slowEndpoint, { requestTimeoutMs: 1_000 });
    const direct = await providerOf(SLOW_USER);
    try {
      // Seeding (no current key): the answer never arrives in time.
      await expect(slow.mint(undefined, async () => undefined)).rejects.toThrow(/CreateAccessKey/);
      expect(creates).toBe(1); // not retried by the SDK
      const made = await keysOf(SLOW_USER);
      expect(made).toHaveLength(1); // the lost answer's key, and no second one
      expect(await markerOf(SLOW_USER)).toBeDefined();

      // The retried step: the user has one key only, and it is rotor's leftover: deleted, then a key is staged.
      let staged: IamCredential | undefined;
      await direct.mint(undefined, async (c) => {
        staged = c;
        seenSecrets.add(c.secretAccessKey);
      });
      expect(await keysOf(SLOW_USER)).toEqual([{ id: staged!.accessKeyId, status: 'Active' }]);
      expect(made[0]!.id).not.toBe(staged!.accessKeyId);
      expect(await works(staged!, SLOW_USER)).toBe(true);
      expect(await markerOf(SLOW_USER)).toBeUndefined();
    } finally {
      await slow.provider.close();
      await direct.provider.close();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('stack restart: a demo IAM secret already in Vault gets a freshly minted key as its NEXT version (check-and-set); an absent one is left to the seed', async () => {
    const path = `apps/it-renew-${RUN}`;
    const target = { path, userName: RENEW_USER, region: stack.file.iam.region, endpoint: stack.file.iam.endpoint };
    const vault = stack.rootVault;
    await withIam(stack.file.iam.root, async (iam) => {
      expect(await renewIamSecret(iam, vault, target)).toBeUndefined();
      expect(await stack.rootVault.kvRead('rotor', path)).toBeUndefined();
      expect(await keysOf(RENEW_USER)).toEqual([]);

      // Versions 1 and 2 name keys of an earlier moto run (gone).
      const gone = { accessKeyId: 'AKIAGONEGONEGONEGONE', secretAccessKey: 'a-key-of-an-earlier-moto-run', userName: RENEW_USER };
      await stack.rootVault.kvWrite('rotor', path, { ...gone, region: target.region, endpoint: target.endpoint });
      await stack.rootVault.kvWrite('rotor', path, { ...gone, region: target.region, endpoint: target.endpoint });
      expect(await renewIamSecret(iam, vault, target)).toBe(3);
    });
    const v3 = await kvAt(path);
    expect(v3.version).toBe(3);
    // What the provider writes: the credential schema, and the same fields.
    expect(Object.keys(v3.data).sort()).toEqual(['accessKeyId', 'endpoint', 'region', 'secretAccessKey', 'userName']);
    expect(iamCredential.parse(v3.data)).toEqual(v3.data);
    expect(v3.data).toMatchObject({ userName: RENEW_USER, region: 'us-east-1', endpoint: stack.file.iam.endpoint });
    expect(await keysOf(RENEW_USER)).toEqual([{ id: v3.data.accessKeyId, status: 'Active' }]);
    expect(await works(v3.data, RENEW_USER)).toBe(true);
    expect((await kvAt(path, 1)).data.accessKeyId).toBe('AKIAGONEGONEGONEGONE'); // history kept
  });

  it('revoke-all (incident responder identity) rotates a leaked key at once; the leaked key is deleted and refused', async () => {
    const s = SECRETS.leaked;
    const before = await kvVersion(s.id);
    expect(await works(before.data, s.user)).toBe(true);
    const incidentId = `inc-iam-${RUN}`;
    const report = await runIncident(stack, { incidentId, reason: 'access key pasted in a public issue', secretIds: [s.id], by: 'alice' });
    expect(report.secrets[0]).toMatchObject({ secretId: s.id, status: 'done', fromVersion: 1, toVersion: 2 });
    const after = await kvVersion(s.id);
    expect(after.version).toBe(2);
    expect(await refused(before.data)).toBe(true);
    expect(await works(after.data, s.user)).toBe(true);
    expect(await keysOf(s.user)).toEqual([{ id: after.data.accessKeyId, status: 'Active' }]);
    await liftFreeze(stack, incidentId, 'carol');
  });

  it('no secret access key appears in workflow history, worker logs or audit rows', async () => {
    for (const s of Object.values(SECRETS)) for (let v = 1; v <= (await kvVersion(s.id)).version; v++) await kvVersion(s.id, v);
    expect(seenSecrets.size).toBeGreaterThanOrEqual(12);
    const ids = Object.values(SECRETS).map((s) => s.id);
    const haystack = await leakHaystack(stack, {
      workflowIds: [...seedAndRotationIds(stack, ids), incidentWorkflowId(`inc-iam-${RUN}`)],
      secretIds: ids,
    });
    expect(haystack).toContain(SECRETS.rollback.id); // the scan sees real content
    expect(haystack).toContain('awaiting_confirmation');
    expect(haystack).toContain('provider.deleteInactiveKey'); // the refusal's reason is there, the keys are not
    for (const value of seenSecrets) expect(haystack.includes(value), 'a secret access key leaked').toBe(false);
  });
});

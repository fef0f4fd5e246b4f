import {
  CreateAccessKeyCommand,
  DeleteAccessKeyCommand,
  GetAccessKeyLastUsedCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListUserTagsCommand,
  TagUserCommand,
  UntagUserCommand,
  UpdateAccessKeyCommand,
  type AccessKeyMetadata,
  type CreateAccessKeyCommandOutput,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { z } from 'zod';
import { readAdminCredential } from '../admin-credential.js';
import { CredentialRejectedError, TargetUnavailableError, type Provider, type ProviderDefinition } from '../provider.js';
import { awsFailure, describe, isRefusedKey, isTransient, type AwsFailure } from './aws-errors.js';
import { formatMarker, isStaleMarker, MINT_MARKER, mayBeLeftover, parseMarker, type MintMarker } from './mint-marker.js';
import { iamCredential, iamSpec, type IamCredential, type IamSpec } from './schema.js';

/** The admin access key at `provider.adminPath`. */
export const iamAdmin = z.object({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1) }).catchall(z.string());
export type IamAdmin = z.infer<typeof iamAdmin>;

export { MINT_MARKER } from './mint-marker.js';

/** AWS may refuse a new key for a few seconds after creating it (eventual consistency). */
const PROPAGATION_MS = 60_000;

/** How long one call may wait for IAM's answer; the tests shorten it. */
const REQUEST_TIMEOUT_MS = 15_000;

/**
 * Where the signed calls go: AWS itself, or the inventory's IAM-compatible endpoint. The key is
 * copied: the SDK writes into the credentials object it is given (`$source`), which must never
 * reach a credential that is compared with or written back to Vault. Two attempts suit idempotent
 * calls only (see `mintIam`).
 */
function clientConfig(spec: IamSpec, key: { accessKeyId: string; secretAccessKey: string }, requestTimeout = REQUEST_TIMEOUT_MS) {
  return {
    region: spec.region,
    ...(spec.endpoint ? { endpoint: spec.endpoint } : {}),
    credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
    maxAttempts: 2,
    // Without throwOnRequestTimeout the SDK only logs a warning and keeps waiting for the answer.
    requestHandler: { connectionTimeout: 5_000, requestTimeout, throwOnRequestTimeout: true },
  };
}

/** Test seams: the worker's clock (the marker's time) and how long a call waits for IAM. */
export interface IamProviderOptions {
  now?: () => number;
  requestTimeoutMs?: number;
}

/**
 * The user's keys other than the current one that rotor deletes before minting: leftovers of its
 * own interrupted mint (whatever the number of keys), and an Inactive key when IAM's two-key limit
 * leaves no room and provider.deleteInactiveKey allows it.
 */
type Room = { delete: { key: AccessKeyMetadata; why: 'interrupted-mint' | 'inactive' }[] };

/**
 * AWS IAM access keys of one user: the target mints the key (CreateAccessKey) and rotor stages it
 * in Vault at once; the old key is deactivated, then deleted, after consumers confirmed the new one.
 * A new key carries the user's policies, so it can do exactly what the old one could.
 */
export function iamProvider(spec: IamSpec, admin: IamAdmin, options: IamProviderOptions = {}): Provider<IamCredential> {
  const now = options.now ?? Date.now;
  const iam = new IAMClient(clientConfig(spec, admin, options.requestTimeoutMs));
  /**
   * CreateAccessKey only, never retried by the SDK: it is not idempotent, so an answer lost to the
   * timeout and a retry would make a second key (or meet the two-key limit). A key the lost answer
   * carried is a leftover the next attempt recognises by rotor's marker.
   */
  const mintIam = new IAMClient({ ...clientConfig(spec, admin, options.requestTimeoutMs), maxAttempts: 1 });
  const user = spec.userName;
  /** Secrets this provider has seen; removed from every message it writes. */
  const secrets = new Set<string>([admin.secretAccessKey]);
  const fail = (err: unknown): AwsFailure => awsFailure(err, [...secrets]);

  /** An admin call's failure as a typed error: a refusal or bad request cannot be fixed by retrying. */
  function adminError(op: string, err: unknown): Error {
    const f = fail(err);
    if (isTransient(f)) return new TargetUnavailableError(`IAM ${op} for user "${user}" failed: ${describe(f)}`);
    if (isRefusedKey(f) || f.code === 'AccessDenied') {
      return new CredentialRejectedError(
        `IAM refused ${op} on user "${user}" with the admin access key at ${spec.adminPath} (${describe(f)}); ` +
          `give that key's principal iam:${op} on the user, or store a working admin key at provider.adminPath`,
      );
    }
    if (f.code === 'NoSuchEntity')
      return new CredentialRejectedError(`IAM user "${user}" does not exist (${describe(f)}); fix provider.userName or create the user`);
    return new CredentialRejectedError(`IAM ${op} for user "${user}" was refused: ${describe(f)}`);
  }

  async function adminCall<T>(op: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw adminError(op, err);
    }
  }

  /** The user's access keys; empty when the user does not exist. */
  async function listKeys(): Promise<AccessKeyMetadata[]> {
    try {
      return (await iam.send(new ListAccessKeysCommand({ UserName: user }))).AccessKeyMetadata ?? [];
    } catch (err) {
      if (fail(err).code === 'NoSuchEntity') return [];
      throw adminError('ListAccessKeys', err);
    }
  }

  /** Deletes one key of the user, deactivating it first (on AWS an inactive key is refused at once); a missing key is fine. */
  async function deleteKey(accessKeyId: string): Promise<void> {
    let op = 'UpdateAccessKey';
    try {
      await iam.send(new UpdateAccessKeyCommand({ UserName: user, AccessKeyId: accessKeyId, Status: 'Inactive' }));
      op = 'DeleteAccessKey';
      await iam.send(new DeleteAccessKeyCommand({ UserName: user, AccessKeyId: accessKeyId }));
    } catch (err) {
      if (fail(err).code !== 'NoSuchEntity') throw adminError(op, err);
    }
  }

  /** The value of rotor's mint marker on the user (MINT_MARKER), or undefined when there is none. */
  async function markerTag(): Promise<string | undefined> {
    const tags = await adminCall('ListUserTags', () => iam.send(new ListUserTagsCommand({ UserName: user })));
    return tags.Tags?.find((t) => t.Key === MINT_MARKER)?.Value;
  }

  const clearMarker = () => adminCall('UntagUser', () => iam.send(new UntagUserCommand({ UserName: user, TagKeys: [MINT_MARKER] })));

  /**
   * A key left by rotor's own interrupted mint: Active, not among the keys the marker says the user
   * had before that mint, created within the mint window after the marker (mayBeLeftover), and never
   * used (its secret was only in the memory of a worker that died, or in an answer that never
   * arrived, so nothing can have signed with it). Anything else is somebody's key and is never deleted.
   */
  async function isInterruptedMint(key: AccessKeyMetadata, marker: MintMarker | undefined): Promise<boolean> {
    if (!mayBeLeftover(key, marker)) return false;
    const used = await adminCall('GetAccessKeyLastUsed', () => iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: key.AccessKeyId })));
    return used.AccessKeyLastUsed?.LastUsedDate === undefined;
  }

  /**
   * Which of the user's keys other than `currentId` go before a new key is minted: every leftover of
   * an interrupted mint (even with room to spare: at seeding it is the user's only key), then, if
   * IAM's limit of two keys per user still leaves no room, an Inactive key when allowed. Refuses
   * (CredentialRejectedError naming the fix) rather than touch a key rotor cannot prove is free to
   * delete. A stale marker that recognises nothing is removed here, so it can never match a later key.
   */
  async function room(currentId: string | undefined): Promise<Room> {
    const keys = await listKeys();
    const others = keys.filter((k) => k.AccessKeyId !== currentId);
    const tag = await markerTag();
    const marker = parseMarker(tag);
    const leftovers: AccessKeyMetadata[] = [];
    for (const key of others) if (await isInterruptedMint(key, marker)) leftovers.push(key);
    // A marker that still recognises a leftover stays until mint() has deleted it (and set its own).
    if (tag !== undefined && leftovers.length === 0 && isStaleMarker(marker, now())) await clearMarker();
    const plan: Room = { delete: leftovers.map((key) => ({ key, why: 'interrupted-mint' as const })) };
    const remaining = others.filter((k) => !leftovers.includes(k));
    if (keys.length - leftovers.length < 2) return plan;
    const inactive = remaining.find((k) => k.Status === 'Inactive');
    if (inactive && spec.deleteInactiveKey) return { delete: [...plan.delete, { key: inactive, why: 'inactive' }] };
    if (inactive) {
      throw new CredentialRejectedError(
        `IAM user "${user}" already has two access keys and ${inactive.AccessKeyId} (not the current one) is Inactive; ` +
          `rotor deletes an inactive key only with provider.deleteInactiveKey: true - set it, or delete that key yourself`,
      );
    }
    const active = remaining.map((k) => k.AccessKeyId).join(', ');
    throw new CredentialRejectedError(
      `IAM user "${user}" already has two access keys and ${active} (not the current one) ${remaining.length > 1 ? 'are' : 'is'} Active: someone else's key, ` +
        `which rotor never deletes; if nothing uses it, deactivate and delete it (aws iam delete-access-key --user-name ${user} ` +
        `--access-key-id <id>), then rotate again`,
    );
  }

  /** The ARN a signed GetCallerIdentity with `credential` answers, or the refusal's failure. */
  async function callerIdentity(credential: IamCredential): Promise<{ arn: string } | { refused: AwsFailure }> {
    secrets.add(credential.secretAccessKey);
    const sts = new STSClient(clientConfig(spec, credential));
    try {
      const who = await sts.send(new GetCallerIdentityCommand({}));
      return { arn: who.Arn ?? '' };
    } catch (err) {
      const f = fail(err);
      if (isRefusedKey(f)) return { refused: f };
      throw new TargetUnavailableError(`sts:GetCallerIdentity with access key ${credential.accessKeyId} failed: ${describe(f)}`);
    } finally {
      sts.destroy();
    }
  }

  // The user's ARN, with or without an IAM path: arn:aws:iam::123456789012:user/ops/demo-app.
  const isUserArn = (arn: string) => /^arn:[\w-]+:iam::\d{12}:user\/(.*\/)?[^/]+$/.test(arn) && arn.split('/').at(-1) === user;

  return {
    principal: (credential) => `aws-iam-access-key:${credential.userName}:${credential.accessKeyId}`,

    source: {
      kind: 'mint',
      async mint(current, stage) {
        const made = await room(current?.accessKeyId);
        for (const { key } of made.delete) await deleteKey(key.AccessKeyId!);
        // Set before CreateAccessKey, with the keys the user has now: a crash (or a lost answer) after
        // it leaves a key the next attempt recognises as rotor's own (isInterruptedMint), and only that key.
        const keysBefore = (await listKeys()).flatMap((k) => (k.AccessKeyId ? [k.AccessKeyId] : []));
        await adminCall('TagUser', () =>
          iam.send(new TagUserCommand({ UserName: user, Tags: [{ Key: MINT_MARKER, Value: formatMarker({ at: now(), keysBefore }) }] })),
        );
        let created: CreateAccessKeyCommandOutput;
        try {
          created = await mintIam.send(new CreateAccessKeyCommand({ UserName: user }));
        } catch (err) {
          const error = adminError('CreateAccessKey', err);
          // A refusal made no key: the marker has nothing to recognise. Without an answer a key may
          // exist: the marker stays for the retried step.
          if (error instanceof CredentialRejectedError) await clearMarker().catch(() => undefined);
          throw error;
        }
        const id = created.AccessKey?.AccessKeyId;
        const secret = created.AccessKey?.SecretAccessKey;
        if (!id || !secret) throw new TargetUnavailableError(`IAM CreateAccessKey for user "${user}" answered without a key`);
        secrets.add(secret);
        try {
          await stage({
            accessKeyId: id,
            secretAccessKey: secret,
            userName: user,
            region: spec.region,
            ...(spec.endpoint ? { endpoint: spec.endpoint } : {}),
          });
        } catch (err) {
          // Nobody can hold this key (Vault did not take it): delete it rather than leave a live key behind.
          try {
            await deleteKey(id);
            await clearMarker();
          } catch {
            // The marker stays: the retried step recognises the key as an interrupted mint and deletes it.
          }
          throw err;
        }
        // Staged: the marker has done its job. One left behind (this call failed, or the worker died
        // first: a retried step finds the key staged and never comes back here) recognises only an
        // unused key, not the current one, created within the mint window after it; room() removes it once stale.
        await clearMarker().catch(() => undefined);
      },
    },

    async precheck(current) {
      // Changes nothing: mint() deletes what room() allows, right before it creates the new key.
      await room(current.accessKeyId);
    },

    async test(credential) {
      const who = await callerIdentity(credential);
      const listed = (await listKeys()).find((k) => k.AccessKeyId === credential.accessKeyId);
      if ('refused' in who) {
        // A key IAM lists as Active but refuses right after creating it has not propagated yet.
        const young = listed?.Status === 'Active' && listed.CreateDate && now() - listed.CreateDate.getTime() < PROPAGATION_MS;
        const why = `IAM refused access key ${credential.accessKeyId} of user "${user}" (${describe(who.refused)})`;
        throw young ? new TargetUnavailableError(`${why}; the key is new, trying again`) : new CredentialRejectedError(why);
      }
      if (!isUserArn(who.arn))
        throw new CredentialRejectedError(`access key ${credential.accessKeyId} authenticates as ${who.arn}, not as IAM user "${user}"`);
      // moto authenticates an Inactive key (it never checks the status), AWS does not: the admin's
      // listing is what says the key will keep working.
      if (listed?.Status !== 'Active') {
        throw new CredentialRejectedError(
          `access key ${credential.accessKeyId} of user "${user}" is ${listed ? (listed.Status ?? 'of unknown status') : 'not listed'} at IAM`,
        );
      }
      // Same privileges by construction: a key has no policies of its own, it acts with its user's.
    },

    async revoke(credential, { terminateSessions }) {
      secrets.add(credential.secretAccessKey);
      // Deactivated first (AWS then refuses it at once, and it is the step that can be undone), then deleted.
      await deleteKey(credential.accessKeyId);
      // Access keys open no sessions. STS session tokens obtained with the key (GetSessionToken)
      // outlive it on AWS; ending them takes an inline Deny on the user with
      // `DateLessThan aws:TokenIssueTime <now>`, which also ends the sessions of the user's new key.
      // moto does not evaluate that condition (it treats an unmet condition as an explicit Deny, so
      // the policy would lock the user out entirely) and does not accept GetSessionToken
      // credentials at all, so there is nothing here that could be verified: left alone.
      void terminateSessions;
    },

    async isRevoked(credential) {
      // Proof is a real signed call being refused. Deletion is what makes moto refuse a key (it
      // authenticates Inactive keys); on AWS the Inactive status already does, so both count.
      const who = await callerIdentity(credential);
      if (!('refused' in who)) return false;
      const listed = (await listKeys()).find((k) => k.AccessKeyId === credential.accessKeyId);
      return listed === undefined || listed.Status === 'Inactive';
    },

    async close() {
      iam.destroy();
      mintIam.destroy();
    },
  };
}

export const iamDefinition: ProviderDefinition<'aws-iam-access-key'> = {
  inventory: iamSpec,
  credential: iamCredential,
  create: async (ctx, spec, secretId) => iamProvider(spec, await readAdminCredential(ctx, iamAdmin, spec.adminPath, secretId)),
};

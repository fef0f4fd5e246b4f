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
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { z } from 'zod';
import { readAdminCredential } from '../admin-credential.js';
import { CredentialRejectedError, TargetUnavailableError, type Provider, type ProviderDefinition } from '../provider.js';
import { awsFailure, describe, isRefusedKey, isTransient, type AwsFailure } from './aws-errors.js';
import { iamCredential, iamSpec, type IamCredential, type IamSpec } from './schema.js';

/** The admin access key at `provider.adminPath`. */
export const iamAdmin = z.object({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1) }).catchall(z.string());
export type IamAdmin = z.infer<typeof iamAdmin>;

/**
 * A user tag rotor sets just before CreateAccessKey and removes once the new key is staged in Vault.
 * A worker that dies in between leaves a key whose secret nobody holds (it was only in that
 * worker's memory); the tag is how the retried step recognises that key as its own. IAM access
 * keys carry no tags of their own, and the key's id is unknown until it exists, hence a user tag.
 */
export const MINT_MARKER = 'rotor-minting';
/** A key counts as left by an interrupted mint only when created this soon after the marker. */
export const ORPHAN_WINDOW_MS = 10 * 60_000;
/** AWS may refuse a new key for a few seconds after creating it (eventual consistency). */
const PROPAGATION_MS = 60_000;

const SDK_TIMEOUTS = { connectionTimeout: 5_000, requestTimeout: 15_000 } as const;

/**
 * Where the signed calls go: AWS itself, or the inventory's IAM-compatible endpoint. The key is
 * copied: the SDK writes into the credentials object it is given (`$source`), which must never
 * reach a credential that is compared with or written back to Vault.
 */
function clientConfig(spec: IamSpec, key: { accessKeyId: string; secretAccessKey: string }) {
  return {
    region: spec.region,
    ...(spec.endpoint ? { endpoint: spec.endpoint } : {}),
    credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
    maxAttempts: 2,
    requestHandler: SDK_TIMEOUTS,
  };
}

/** What to do with the user's keys other than the current one when IAM's two-key limit leaves no room. */
type Room = { kind: 'free' } | { kind: 'delete'; key: AccessKeyMetadata; why: 'interrupted-mint' | 'inactive' };

/**
 * AWS IAM access keys of one user: the target mints the key (CreateAccessKey) and rotor stages it
 * in Vault at once; the old key is deactivated, then deleted, after consumers confirmed the new one.
 * A new key carries the user's policies, so it can do exactly what the old one could.
 */
export function iamProvider(spec: IamSpec, admin: IamAdmin, now: () => number = Date.now): Provider<IamCredential> {
  const iam = new IAMClient(clientConfig(spec, admin));
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

  /** When rotor's marker says a mint began (ms since epoch), or undefined. */
  async function markedAt(): Promise<number | undefined> {
    const tags = await adminCall('ListUserTags', () => iam.send(new ListUserTagsCommand({ UserName: user })));
    const value = tags.Tags?.find((t) => t.Key === MINT_MARKER)?.Value;
    const at = value === undefined ? NaN : Date.parse(value);
    return Number.isNaN(at) ? undefined : at;
  }

  /**
   * A key left by rotor's own interrupted mint: Active, created within ORPHAN_WINDOW_MS after
   * rotor's marker, and never used (its secret was only in the memory of a worker that died, so
   * nothing can have signed with it). Anything else is somebody's key and is never deleted.
   */
  async function isInterruptedMint(key: AccessKeyMetadata, marker: number | undefined): Promise<boolean> {
    if (marker === undefined || key.Status !== 'Active' || !key.CreateDate || !key.AccessKeyId) return false;
    const created = key.CreateDate.getTime();
    // CreateDate has one-second precision; the marker milliseconds.
    if (created < marker - 1000 || created > marker + ORPHAN_WINDOW_MS) return false;
    const used = await adminCall('GetAccessKeyLastUsed', () => iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: key.AccessKeyId })));
    return used.AccessKeyLastUsed?.LastUsedDate === undefined;
  }

  /**
   * Whether IAM's limit of two keys per user leaves room for a new one beside `currentId`, and if
   * not, which other key may go. Refuses (CredentialRejectedError naming the fix) rather than touch
   * a key rotor cannot prove is free to delete.
   */
  async function room(currentId: string | undefined): Promise<Room> {
    const keys = await listKeys();
    if (keys.length < 2) return { kind: 'free' };
    const others = keys.filter((k) => k.AccessKeyId !== currentId);
    const marker = await markedAt();
    for (const key of others) if (await isInterruptedMint(key, marker)) return { kind: 'delete', key, why: 'interrupted-mint' };
    const inactive = others.find((k) => k.Status === 'Inactive');
    if (inactive && spec.deleteInactiveKey) return { kind: 'delete', key: inactive, why: 'inactive' };
    if (inactive) {
      throw new CredentialRejectedError(
        `IAM user "${user}" already has two access keys and ${inactive.AccessKeyId} (not the current one) is Inactive; ` +
          `rotor deletes an inactive key only with provider.deleteInactiveKey: true - set it, or delete that key yourself`,
      );
    }
    const active = others.map((k) => k.AccessKeyId).join(', ');
    throw new CredentialRejectedError(
      `IAM user "${user}" already has two access keys and ${active} (not the current one) ${others.length > 1 ? 'are' : 'is'} Active: someone else's key, ` +
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
        if (made.kind === 'delete') await deleteKey(made.key.AccessKeyId!);
        // Set before CreateAccessKey: a crash after it leaves a key a retry recognises (isInterruptedMint).
        await adminCall('TagUser', () =>
          iam.send(new TagUserCommand({ UserName: user, Tags: [{ Key: MINT_MARKER, Value: new Date(now()).toISOString() }] })),
        );
        const created = await adminCall('CreateAccessKey', () => iam.send(new CreateAccessKeyCommand({ UserName: user })));
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
            await iam.send(new UntagUserCommand({ UserName: user, TagKeys: [MINT_MARKER] }));
          } catch {
            // The marker stays: the retried step recognises the key as an interrupted mint and deletes it.
          }
          throw err;
        }
        // Staged: the marker has done its job. A stale one is harmless (ORPHAN_WINDOW_MS, never-used check).
        await iam.send(new UntagUserCommand({ UserName: user, TagKeys: [MINT_MARKER] })).catch(() => undefined);
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
    },
  };
}

export const iamDefinition: ProviderDefinition<'aws-iam-access-key'> = {
  inventory: iamSpec,
  credential: iamCredential,
  create: async (ctx, spec, secretId) => iamProvider(spec, await readAdminCredential(ctx, iamAdmin, spec.adminPath, secretId)),
};

import { CreateAccessKeyCommand, CreateUserCommand, DeleteAccessKeyCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { VaultClient } from '../vault/vault-client.js';
import { VaultRequestError } from '../vault/vault-error.js';
import { KV_MOUNT } from './bootstrap-vault.js';
import type { IamServer } from './iam-server.js';
import { StackError } from './stack-error.js';

/** Where the demo IAM endpoint's admin access key lives in Vault; the aws-iam-access-key provider reads it from there. */
export const DEMO_IAM_ADMIN_PATH = '_rotor/admin/demo-iam';

/** What tests use to inspect the IAM endpoint (an administrator's access key, local only). */
export interface IamRoot {
  accessKeyId: string;
  secretAccessKey: string;
}

/** The demo secret whose key lives only in this moto run (see renewIamSecret). */
const DEMO_IAM_SECRET = { path: 'apps/demo-iam', userName: 'demo-app' } as const;

/*
 * moto checks IAM actions against resource "*" only (it never works out the user an iam: request
 * is about), so a statement naming arn:aws:iam::<account>:user/<name> never matches there and every
 * policy below says "*". On AWS, scope rotor's admin policy to the users it rotates.
 */
const policy = (actions: string[]) =>
  JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }] });

const USERS = [
  // For tests only: arranges and inspects the endpoint (create users, list keys).
  { name: 'rotor-test-root', policy: policy(['*']) },
  // rotor's admin principal: exactly the key operations the aws-iam-access-key provider performs.
  {
    name: 'rotor-admin',
    policy: policy([
      'iam:ListAccessKeys',
      'iam:CreateAccessKey',
      'iam:UpdateAccessKey',
      'iam:DeleteAccessKey',
      'iam:GetAccessKeyLastUsed',
      'iam:TagUser',
      'iam:UntagUser',
      'iam:ListUserTags',
    ]),
  },
  // The demo application: a little it can be seen to do with its key.
  { name: 'demo-app', policy: policy(['iam:GetUser', 'sts:GetCallerIdentity']) },
] as const;

/**
 * Runs at every stack start, since moto keeps nothing across restarts: creates the test root user,
 * rotor's admin user (its key only in Vault, at DEMO_IAM_ADMIN_PATH) and the demo application's
 * user (a new key as a new version of its secret when Vault has it: renewIamSecret), then turns on
 * moto's request authentication (signatures checked, policies evaluated).
 */
export async function bootstrapIam(server: IamServer, vaultAddress: string, rootToken: string): Promise<IamRoot> {
  const motoApi = async (path: string, body?: string) => {
    const res = await fetch(`${server.endpoint}/moto-api/${path}`, { method: 'POST', body, signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new StackError(`moto refused POST /moto-api/${path} (HTTP ${res.status})`, 'read the log', server.proc.logFile);
  };
  // An empty account with authentication off, even if this moto outlived an earlier launcher.
  await motoApi('reset');
  await motoApi('reset-auth', 'inf');

  // Unauthenticated until reset-auth below: any signature is accepted, so a placeholder key signs.
  const iam = new IAMClient({
    region: server.region,
    endpoint: server.endpoint,
    credentials: { accessKeyId: 'AKIAROTORBOOTSTRAP00', secretAccessKey: 'bootstrap-before-authentication' },
  });
  const keys = new Map<string, IamRoot>();
  try {
    for (const user of USERS) {
      await iam.send(new CreateUserCommand({ UserName: user.name }));
      await iam.send(new PutUserPolicyCommand({ UserName: user.name, PolicyName: `${user.name}-policy`, PolicyDocument: user.policy }));
      if (user.name === DEMO_IAM_SECRET.userName) continue; // its key: renewIamSecret below, or the demo's seed
      const key = (await iam.send(new CreateAccessKeyCommand({ UserName: user.name }))).AccessKey;
      if (!key?.AccessKeyId || !key.SecretAccessKey)
        throw new StackError(`moto created no access key for ${user.name}`, 'read the log', server.proc.logFile);
      keys.set(user.name, { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey });
    }
    const vault = new VaultClient(vaultAddress, rootToken);
    await vault.kvWrite(KV_MOUNT, DEMO_IAM_ADMIN_PATH, { ...keys.get('rotor-admin')! });
    await renewIamSecret(iam, vault, { ...DEMO_IAM_SECRET, region: server.region, endpoint: server.endpoint });
  } finally {
    iam.destroy();
  }

  // From here on every request must be signed by an existing key and is checked against its user's policies.
  await motoApi('reset-auth', '0');
  return keys.get('rotor-test-root')!;
}

/** The shape the aws-iam-access-key provider writes at a secret's path (its credential schema). */
interface IamSecretTarget {
  path: string;
  userName: string;
  region: string;
  endpoint: string;
}

/**
 * The demo secret's key existed only in the previous moto run. When the secret is in Vault already,
 * a key minted now for its user is written as a NEW version of it (check-and-set on the current
 * version), in the shape the provider writes: deleting the path instead would restart its versions
 * at 1 while Temporal's histories and the audit rows, which outlive the restart, name the old
 * numbers. A rotation left open across the restart then meets a concurrent writer at its next
 * check-and-set and rolls back or aborts, never overwriting this version. When the secret is not in
 * Vault, nothing is minted: the demo's seed does it (undefined). Returns the version written.
 * `iam` must be allowed iam:CreateAccessKey and iam:DeleteAccessKey on the user.
 */
export async function renewIamSecret(iam: IAMClient, vault: VaultClient, target: IamSecretTarget): Promise<number | undefined> {
  const meta = await vault.kvMetadata(KV_MOUNT, target.path);
  if (!meta || meta.current_version === 0) return undefined;
  const key = (await iam.send(new CreateAccessKeyCommand({ UserName: target.userName }))).AccessKey;
  if (!key?.AccessKeyId || !key.SecretAccessKey) throw new StackError(`moto created no access key for ${target.userName}`, 'read the log');
  const credential = {
    accessKeyId: key.AccessKeyId,
    secretAccessKey: key.SecretAccessKey,
    userName: target.userName,
    region: target.region,
    endpoint: target.endpoint,
  };
  try {
    // Minted by the target, so Vault learns it at once, before anything else does.
    return (await vault.kvWrite(KV_MOUNT, target.path, credential, meta.current_version)).version;
  } catch (err) {
    // Nobody holds the key: delete it rather than leave a live key behind.
    await iam.send(new DeleteAccessKeyCommand({ UserName: target.userName, AccessKeyId: key.AccessKeyId })).catch(() => undefined);
    throw new StackError(
      `could not write a new version of ${KV_MOUNT}/${target.path} (expected version ${meta.current_version} current): ${err instanceof VaultRequestError ? err.message : 'the Vault request failed'}`,
      'start again; if another writer changed the secret meanwhile, that is why',
    );
  }
}

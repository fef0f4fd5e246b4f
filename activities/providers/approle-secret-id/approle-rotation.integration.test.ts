import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import pg from 'pg';
import type pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../../../test/helpers/test-stack.js';
import { liftFreeze, runIncident } from '../../../test/helpers/incident.js';
import { leakHaystack, seedAndRotationIds } from '../../../test/helpers/leak-scan.js';
import { rotate, seed, startRotation, waitForStatus } from '../../../test/helpers/rotation-fixtures.js';
import { VaultClient } from '../../../vault/vault-client.js';
import { VaultRequestError } from '../../../vault/vault-error.js';
import type { RotationRef, RotationResult } from '../../../workflows/rotation-types.js';
import { createLogger } from '../../../workers/logger.js';
import { createActivityContext, type ActivityContext } from '../../activity-context.js';
import { pendingPath, withSecret } from '../../rotation/secret-handle.js';
import { stagedCredentialActivities, stageNewCredential } from '../../rotation/staged-credential.js';
import type { AppRoleCredential } from './schema.js';
import { incidentWorkflowId, statusQuery } from '../../../workflows/contracts.js';
import { identityToken } from '../../../test/helpers/operators.js';

const SECRETS = [
  { id: 'billing-approle', role: 'billing-service', confirmTimeout: '2m', secretIdSource: 'rotor' },
  { id: 'billing-approle-2', role: 'billing-service-2', confirmTimeout: '3s', secretIdSource: 'rotor' },
  // Vault generates this one's secret IDs (POST auth/approle/role/<role>/secret-id); rotor stages each at once.
  { id: 'billing-approle-minted', role: 'billing-service-minted', confirmTimeout: '2m', secretIdSource: 'vault' },
  // Leaked in an incident: revoke-all must end the tokens already issued with it.
  { id: 'billing-approle-leaked', role: 'billing-service-leaked', confirmTimeout: '2s', secretIdSource: 'rotor' },
] as const;
type SecretId = (typeof SECRETS)[number]['id'];
const MINTED = SECRETS[2];

const inventory = `secrets:\n${SECRETS.map(
  (s) => `  - id: ${s.id}
    path: apps/${s.id}
    owner: team-billing
    tags: [test]
    provider: { type: approle-secret-id, role: ${s.role}, secretIdSource: ${s.secretIdSource} }
    overlap: 1s
    consumers:
      - name: billing
        confirm: { mode: manual, timeout: ${s.confirmTimeout} }
`,
).join('')}`;

describe('approle-secret-id rotation against the real stack', () => {
  let stack: TestStack;
  /** Every secret ID any version ever held, for the leak scan at the end. */
  const seenSecretIds = new Set<string>();
  /** Activities called directly (the retry test) log here; scanned for secret IDs too. */
  const directLogLines: string[] = [];
  let direct: { ctx: ActivityContext; db: pg.Pool } | undefined;

  const kvAt = async (path: string, version?: number): Promise<{ data: AppRoleCredential; version: number }> => {
    const read = await stack.rootVault.kvRead<AppRoleCredential>('rotor', path, version);
    if (!read) throw new Error(`no version ${version ?? 'current'} of ${path}`);
    seenSecretIds.add(read.data.secret_id);
    return { data: read.data, version: read.metadata.version };
  };
  const kvVersion = (secretId: SecretId, version?: number) => kvAt(`apps/${secretId}`, version);

  /** A real AppRole login without any token, as the consumer would do; false when Vault refuses it. */
  const logsIn = async (cred: AppRoleCredential): Promise<boolean> => {
    try {
      const auth = await new VaultClient(stack.env.ROTOR_VAULT_ADDR).approleLogin(cred.role_id, cred.secret_id);
      await new VaultClient(stack.env.ROTOR_VAULT_ADDR, auth.client_token).request('POST', 'auth/token/revoke-self');
      return true;
    } catch (err) {
      if (err instanceof VaultRequestError && err.status === 400 && err.vaultErrors.some((e) => /invalid (role or )?secret id/i.test(e)))
        return false;
      throw err;
    }
  };

  /** Accessors of every secret ID the role currently accepts (root view of the AppRole). */
  const accessors = async (role: string): Promise<string[]> => {
    try {
      return (await stack.rootVault.request<{ data: { keys: string[] } }>('LIST', `auth/approle/role/${role}/secret-id`)).data.keys;
    } catch (err) {
      if (err instanceof VaultRequestError && err.status === 404) return [];
      throw err;
    }
  };

  beforeAll(async () => {
    stack = await startTestStack('approle', inventory);
    for (const s of SECRETS) {
      await stack.rootVault.request('POST', `auth/approle/role/${s.role}`, {
        token_policies: ['default'],
        token_ttl: '5m',
        secret_id_ttl: '0',
      });
    }
    for (const s of SECRETS) expect(await seed(stack, s.id)).toBe(1);
  });

  afterAll(async () => {
    await direct?.ctx.providerCaches.close();
    await direct?.db.end();
    await stack?.close();
  });

  it('seeding gives each secret a working secret ID of its own role', async () => {
    for (const s of SECRETS) {
      const v1 = await kvVersion(s.id, 1);
      const roleId = (await stack.rootVault.request<{ data: { role_id: string } }>('GET', `auth/approle/role/${s.role}/role-id`)).data
        .role_id;
      expect(v1.data.role_id).toBe(roleId);
      expect(await logsIn(v1.data)).toBe(true);
      expect(await accessors(s.role)).toHaveLength(1);
    }
  });

  it('rotation: both secret IDs log in while awaiting confirmation; after it, version 2 logs in and version 1 is refused', async () => {
    const before = await kvVersion('billing-approle');
    expect(before.version).toBe(1);
    const handle = await startRotation(stack, 'billing-approle');
    expect(handle.workflowId).toBe('rotate/billing-approle');
    const waiting = await waitForStatus(stack, handle.workflowId, (s) => s.phase === 'awaiting_confirmation');
    expect(waiting).toMatchObject({ fromVersion: 1, toVersion: 2 });

    // Dual: the promoted secret ID is current in Vault and the old one still works until consumers confirm.
    const promoted = await kvVersion('billing-approle');
    expect(promoted.version).toBe(2);
    expect(promoted.data.role_id).toBe(before.data.role_id);
    expect(promoted.data.secret_id).not.toBe(before.data.secret_id);
    expect(await logsIn(before.data)).toBe(true);
    expect(await logsIn(promoted.data)).toBe(true);
    expect(await accessors('billing-service')).toHaveLength(2);
    expect((await handle.query(statusQuery)).phase).toBe('awaiting_confirmation'); // still waiting

    expect(
      await handle.executeUpdate('confirmCutover', {
        args: [{ consumer: 'billing', version: waiting.toVersion, identity: await identityToken(stack.file, 'alice') }],
      }),
    ).toMatchObject({ status: 'confirmed', confirmedVersion: 2, confirmedBy: 'alice' });
    const result = (await handle.result()) as RotationResult;
    expect(result, JSON.stringify(result)).toMatchObject({ outcome: 'rotated', fromVersion: 1, toVersion: 2 });

    const after = await kvVersion('billing-approle');
    expect(after.version).toBe(2);
    expect(await logsIn(after.data)).toBe(true);
    expect(await logsIn(before.data)).toBe(false);
    expect(await accessors('billing-service')).toHaveLength(1); // the old secret ID is destroyed, not merely unused
    expect(await stack.rootVault.kvList('rotor', '_rotor/pending/billing-approle/')).toEqual([]);
  });

  it('rollback: nobody confirms, version 1 is restored and still logs in, the attempted secret ID is refused', async () => {
    const before = await kvVersion('billing-approle-2');
    expect(before.version).toBe(1);
    const result = await rotate(stack, 'billing-approle-2');
    expect(result, JSON.stringify(result)).toMatchObject({
      outcome: 'rolled_back',
      fromVersion: 1,
      attemptedVersion: 2,
      restoredVersion: 3,
      failedPhase: 'awaiting_confirmation',
    });
    const attempted = await kvVersion('billing-approle-2', 2);
    expect(attempted.data.secret_id).not.toBe(before.data.secret_id);
    const current = await kvVersion('billing-approle-2');
    expect(current.version).toBe(3);
    expect(current.data).toEqual(before.data); // version 1's secret ID is current again
    expect(await logsIn(before.data)).toBe(true);
    expect(await logsIn(attempted.data)).toBe(false);
    expect(await accessors('billing-service-2')).toHaveLength(1);
    expect(await stack.rootVault.kvList('rotor', '_rotor/pending/billing-approle-2/')).toEqual([]);
    const meta = await stack.rootVault.kvMetadata('rotor', 'apps/billing-approle-2');
    expect(meta?.custom_metadata).toMatchObject({ rotor_restored_from_version: '1', rotor_restored_version: '3' });
  });

  it('secretIdSource vault: Vault mints the secret ID and rotor stages it; after cutover the new one logs in, the old one is refused', async () => {
    const before = await kvVersion(MINTED.id);
    expect(before.version).toBe(1);
    const handle = await startRotation(stack, MINTED.id);
    const waiting = await waitForStatus(stack, handle.workflowId, (s) => s.phase === 'awaiting_confirmation');
    expect(waiting).toMatchObject({ fromVersion: 1, toVersion: 2 });

    const promoted = await kvVersion(MINTED.id);
    expect(promoted.version).toBe(2);
    expect(promoted.data.role_id).toBe(before.data.role_id);
    expect(promoted.data.secret_id).not.toBe(before.data.secret_id);
    expect(await logsIn(before.data)).toBe(true);
    expect(await logsIn(promoted.data)).toBe(true);
    expect(await accessors(MINTED.role)).toHaveLength(2); // exactly one secret ID minted for this rotation

    await handle.executeUpdate('confirmCutover', {
      args: [{ consumer: 'billing', version: waiting.toVersion, identity: await identityToken(stack.file, 'alice') }],
    });
    const result = (await handle.result()) as RotationResult;
    expect(result, JSON.stringify(result)).toMatchObject({ outcome: 'rotated', fromVersion: 1, toVersion: 2 });

    // At the server: the KV current version holds the new secret ID, which logs in; the old one is refused.
    const after = await kvVersion(MINTED.id);
    expect(after.version).toBe(2);
    expect(after.data).toEqual(promoted.data);
    expect(await logsIn(after.data)).toBe(true);
    expect(await logsIn(before.data)).toBe(false);
    expect(await accessors(MINTED.role)).toHaveLength(1);
    expect(await stack.rootVault.kvList('rotor', `_rotor/pending/${MINTED.id}/`)).toEqual([]);
  });

  it('a retried stage step reuses the minted secret ID and mints none; one minted by a losing attempt is destroyed', async () => {
    const env = stack.env;
    const db = new pg.Pool({ connectionString: env.ROTOR_DATABASE_URL, max: 2 });
    const logger = createLogger('debug', { write: (line: string) => void directLogLines.push(line) } as pino.DestinationStream);
    const ctx = createActivityContext(env, { db, logger, temporal: stack.client });
    direct = { ctx, db };
    const steps = stagedCredentialActivities(ctx);
    const ref: RotationRef = { secretId: MINTED.id, rotationId: randomUUID(), actor: 'test' };
    let activityId = 0;
    // Each call as its own activity attempt of one workflow run, as the worker would run a retry.
    const attempt = <A, R>(fn: (arg: A) => Promise<R>, arg: A) =>
      new MockActivityEnvironment({
        activityId: String(++activityId),
        workflowExecution: { workflowId: `test/${ref.rotationId}`, runId: ref.rotationId },
      }).run(fn, arg) as Promise<R>;
    const path = pendingPath(ref.secretId, ref.rotationId);
    const current = await kvVersion(MINTED.id);
    expect(await accessors(MINTED.role)).toHaveLength(1);

    await attempt(steps.stageCredential, { ...ref, fromVersion: current.version });
    const staged = await kvAt(path, 1);
    expect(staged.data.role_id).toBe(current.data.role_id);
    expect(await accessors(MINTED.role)).toHaveLength(2);
    expect(await logsIn(staged.data)).toBe(true); // the target accepts it already: nothing to apply

    await attempt(steps.stageCredential, { ...ref, fromVersion: current.version }); // the retry
    await attempt(steps.applyStaged, ref);
    expect(await accessors(MINTED.role)).toHaveLength(2); // nothing minted again
    expect((await stack.rootVault.kvMetadata('rotor', path))?.current_version).toBe(1);
    expect((await kvAt(path, 1)).data).toEqual(staged.data);

    // An attempt that mints while an earlier one already wrote the pending path loses cas=0: its secret ID is destroyed.
    const raced = pendingPath(ref.secretId, randomUUID());
    await stack.rootVault.kvWrite('rotor', raced, { ...staged.data }, 0);
    expect(await withSecret(ctx, MINTED.id, (secret) => stageNewCredential(ctx, secret, raced, undefined))).toBeUndefined();
    expect(await accessors(MINTED.role)).toHaveLength(2);
    await stack.rootVault.kvDeleteAll('rotor', raced);

    expect(await attempt(steps.discardStaged, { ...ref, revoke: true })).toEqual({ revoked: true });
    expect(await logsIn(staged.data)).toBe(false);
    expect(await logsIn(current.data)).toBe(true);
    expect(await accessors(MINTED.role)).toHaveLength(1);
  });

  it('revoke-all ends the tokens issued with a compromised secret ID, not only the secret ID', async () => {
    const LEAKED = SECRETS[3];
    const before = await kvVersion(LEAKED.id);
    const vault = (token?: string) => new VaultClient(stack.env.ROTOR_VAULT_ADDR, token);
    const tokenWorks = (token: string) =>
      vault(token)
        .request('GET', 'auth/token/lookup-self')
        .then(() => true)
        .catch((err: unknown) => {
          if (err instanceof VaultRequestError && err.status === 403) return false;
          throw err;
        });
    // An attacker logged in with the leaked secret ID; a bystander holds a token of another secret.
    const stolen = (await vault().approleLogin(before.data.role_id, before.data.secret_id)).client_token;
    const bystanderCred = (await kvVersion('billing-approle')).data;
    const bystander = (await vault().approleLogin(bystanderCred.role_id, bystanderCred.secret_id)).client_token;
    expect(await tokenWorks(stolen)).toBe(true);

    const incidentId = 'inc-approle-leak';
    const report = await runIncident(stack, {
      incidentId,
      reason: 'secret ID pasted in a public issue',
      secretIds: [LEAKED.id],
      by: 'alice',
    });
    expect(report.secrets[0]).toMatchObject({ secretId: LEAKED.id, status: 'done', fromVersion: 1, toVersion: 2 });
    expect(await tokenWorks(stolen)).toBe(false); // refused at Vault, not merely unlisted
    expect(await tokenWorks(bystander)).toBe(true);
    expect(await logsIn(before.data)).toBe(false);
    expect(await logsIn((await kvVersion(LEAKED.id)).data)).toBe(true);
    await liftFreeze(stack, incidentId, 'carol');
  });

  it('no secret ID appears in workflow history, worker logs or audit rows', async () => {
    for (const s of SECRETS) await kvVersion(s.id, 2);
    expect(seenSecretIds.size).toBe(2 * SECRETS.length + 1); // v1 and v2 of each secret, and the one staged by the retry test
    const ids = SECRETS.map((s) => s.id);
    const haystack = await leakHaystack(stack, {
      workflowIds: [...seedAndRotationIds(stack, ids), incidentWorkflowId('inc-approle-leak')],
      secretIds: ids,
      extraText: directLogLines,
    });
    expect(haystack).toContain('billing-approle-2'); // the scan sees real content
    expect(haystack).toContain('awaiting_confirmation');
    for (const value of seenSecretIds) expect(haystack.includes(value), 'a secret ID leaked').toBe(false);
  });
});

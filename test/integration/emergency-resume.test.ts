import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivityContext } from '../../activities/activity-context.js';
import { createActivities } from '../../activities/index.js';
import { rotationWorkflowId } from '../../workflows/contracts.js';
import { kvVersion, postgresSecretYaml, seed } from '../helpers/rotation-fixtures.js';
import { canLogin, createLogger, startTestStack, type TestStack } from '../helpers/test-stack.js';

/**
 * An emergency rotation's steps run as local activities, whose results reach history only when the
 * workflow task completes. A worker that dies after promotion but before that makes the next worker
 * run the steps again from the start of the task: the pre-promotion activity too. These tests run
 * that sequence with the real activities against the real Vault and PostgreSQL.
 */
describe('emergency rotation steps run again after promotion', () => {
  let stack: TestStack;
  let db: pg.Pool;
  let acts: ReturnType<typeof createActivities>;

  beforeAll(async () => {
    stack = await startTestStack(
      'resume',
      `secrets:\n${postgresSecretYaml('resume-db')}${postgresSecretYaml('resume-solo')}${postgresSecretYaml('resume-stamp')}`,
    );
    for (const id of ['resume-db', 'resume-solo', 'resume-stamp']) expect(await seed(stack, id)).toBe(1);
    db = new pg.Pool({ connectionString: stack.env.ROTOR_DATABASE_URL, max: 2 });
    acts = createActivities(createActivityContext(stack.env, { db, logger: createLogger('warn'), temporal: stack.client }));
  });
  afterAll(async () => {
    await db?.end();
    await stack?.close();
  });

  /** Each call in an activity context of one rotation, as the worker runs it. */
  const inRotation = (secretId: string, rotationId: string) => {
    let activityId = 0;
    return <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A) =>
      new MockActivityEnvironment({
        activityId: String(++activityId),
        workflowExecution: { workflowId: rotationWorkflowId(secretId), runId: rotationId },
      }).run(fn, ...args) as Promise<R>;
  };

  it('the repeated pre-promotion step reports the version it promoted from, so the compromised one is revoked', async () => {
    const ref = { secretId: 'resume-db', rotationId: randomUUID(), actor: 'test (incident inc-resume)' };
    const run = inRotation(ref.secretId, ref.rotationId);
    const compromised = await kvVersion(stack, ref.secretId);

    const first = await run(acts.emergencyPrepare, { ...ref, reason: 'resume test', eventId: randomUUID() });
    expect(first.fromVersion).toBe(1);
    expect((await run(acts.emergencyPromote, { ...ref, fromVersion: first.fromVersion })).promotedVersion).toBe(2);
    // The worker dies here: the next one runs the workflow task again, from before emergencyPrepare.
    const again = await run(acts.emergencyPrepare, { ...ref, reason: 'resume test', eventId: randomUUID() });
    expect(again.fromVersion).toBe(1); // not 2, its own promotion
    const promoted = await run(acts.emergencyPromote, { ...ref, fromVersion: again.fromVersion });
    expect(promoted.promotedVersion).toBe(2); // recognised its own write; no version 3
    await run(acts.emergencyRetire, { ...ref, version: again.fromVersion, validateVersion: promoted.promotedVersion });

    const current = await kvVersion(stack, ref.secretId);
    expect(current.version).toBe(2);
    expect(await canLogin(stack.file, current.data.username, current.data.password)).toBe(true);
    expect(await canLogin(stack.file, compromised.data.username, compromised.data.password)).toBe(false);
  });

  it('with no consumer, promotion retires the old version in the same step, and a repeat of both changes nothing', async () => {
    const ref = { secretId: 'resume-solo', rotationId: randomUUID(), actor: 'test (incident inc-resume)' };
    const run = inRotation(ref.secretId, ref.rotationId);
    const compromised = await kvVersion(stack, ref.secretId);
    const finishEventId = randomUUID();

    for (let attempt = 1; attempt <= 2; attempt++) {
      const prepared = await run(acts.emergencyPrepare, { ...ref, reason: 'resume test', eventId: randomUUID() });
      expect(prepared.fromVersion).toBe(1);
      const promoted = await run(acts.emergencyPromote, { ...ref, fromVersion: prepared.fromVersion, retire: { finishEventId } });
      expect(promoted).toMatchObject({ promotedVersion: 2, retired: true });
    }
    const current = await kvVersion(stack, ref.secretId);
    expect(current.version).toBe(2);
    expect(await canLogin(stack.file, current.data.username, current.data.password)).toBe(true);
    expect(await canLogin(stack.file, compromised.data.username, compromised.data.password)).toBe(false);
  });

  it('a worker that died between the promotion write and its stamp: the repeat still finds its own promotion', async () => {
    const ref = { secretId: 'resume-stamp', rotationId: randomUUID(), actor: 'test (incident inc-resume)' };
    const run = inRotation(ref.secretId, ref.rotationId);
    const compromised = await kvVersion(stack, ref.secretId);

    const first = await run(acts.emergencyPrepare, { ...ref, reason: 'resume test', eventId: randomUUID() });
    // The promotion's KV write, as promote makes it (cas = the version it replaces), and then the worker dies: no stamp.
    const staged = await stack.rootVault.kvRead<Record<string, string>>('rotor', `_rotor/pending/${ref.secretId}/${ref.rotationId}`);
    await stack.rootVault.kvWrite('rotor', `apps/${ref.secretId}`, staged!.data, first.fromVersion);
    expect((await stack.rootVault.kvMetadata('rotor', `apps/${ref.secretId}`))?.custom_metadata?.rotor_rotation_id).toBeUndefined();

    const again = await run(acts.emergencyPrepare, { ...ref, reason: 'resume test', eventId: randomUUID() });
    expect(again.fromVersion).toBe(1);
    const promoted = await run(acts.emergencyPromote, { ...ref, fromVersion: again.fromVersion });
    expect(promoted.promotedVersion).toBe(2);
    await run(acts.emergencyRetire, { ...ref, version: again.fromVersion, validateVersion: promoted.promotedVersion });
    const current = await kvVersion(stack, ref.secretId);
    expect(current.version).toBe(2);
    expect(await canLogin(stack.file, current.data.username, current.data.password)).toBe(true);
    expect(await canLogin(stack.file, compromised.data.username, compromised.data.password)).toBe(false);
  });
});

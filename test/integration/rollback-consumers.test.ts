import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confirmCutoverUpdate } from '../../workflows/contracts.js';
import { identityToken } from '../helpers/operators.js';
import { kvVersion, postgresSecretYaml, seed, startRotation, waitForStatus, type DbCredential } from '../helpers/rotation-fixtures.js';
import { canLogin, startTestStack, superuserClient, type TestStack } from '../helpers/test-stack.js';

/**
 * A rollback must not cut off a consumer that already moved to the new version (invariant
 * one-working-credential): the staged credential stays valid until every consumer that confirmed
 * it confirms the restored version, each through its own mode. Asserted at PostgreSQL.
 */
const unreachable = (timeout: string) =>
  `      - name: billing\n        confirm: { mode: webhook, url: http://127.0.0.1:1/reload, timeout: ${timeout} }`;
const ops = (timeout: string) => `      - name: ops\n        confirm: { mode: manual, timeout: ${timeout} }`;
const reporting = `      - name: reporting\n        confirm: { mode: pg-sessions, timeout: 30s, applicationName: reporting }`;
const inventory = `secrets:
${postgresSecretYaml('rb-db', `${ops('1m')}\n${reporting}\n${unreachable('6s')}`)}${postgresSecretYaml('rb-stuck', `${ops('4s')}\n${unreachable('2s')}`)}`;

describe('rollback never strands a consumer that moved to the new version', () => {
  let stack: TestStack;
  const session = async (cred: DbCredential) => {
    const c = new pg.Client({
      host: stack.file.postgres.host,
      port: stack.file.postgres.port,
      user: cred.username,
      password: cred.password,
      database: 'demo',
      application_name: 'reporting',
    });
    await c.connect();
    return c;
  };
  const logsIn = (c: DbCredential) => canLogin(stack.file, c.username, c.password);

  beforeAll(async () => {
    stack = await startTestStack('rollback-consumers', inventory);
    for (const id of ['rb-db', 'rb-stuck']) expect(await seed(stack, id)).toBe(1);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('a confirmed manual and a confirmed pg-sessions consumer keep working until they confirm the restored version', async () => {
    const original = (await kvVersion(stack, 'rb-db')).data;
    const handle = await startRotation(stack, 'rb-db');
    await waitForStatus(stack, handle.workflowId, (s) => s.phase === 'awaiting_confirmation');
    const attempted = (await kvVersion(stack, 'rb-db')).data;
    // Two consumers move to version 2; billing never answers, so the rotation rolls back.
    const onNew = await session(attempted);
    await handle.executeUpdate(confirmCutoverUpdate, {
      args: [{ consumer: 'ops', version: 2, identity: await identityToken(stack.file, 'carol') }],
    });

    const rolling = await waitForStatus(
      stack,
      handle.workflowId,
      (s) => s.phase === 'rolling_back' && s.consumers.filter((c) => c.restoring && c.status === 'notified').length === 2,
      30_000,
    );
    expect(rolling.toVersion).toBe(3);
    expect((await kvVersion(stack, 'rb-db')).data).toEqual(original); // version 1's credential is current again
    expect(await logsIn(attempted)).toBe(true); // still valid: two consumers use it
    expect((await onNew.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);

    // Both move back: the person confirms version 3, the pool reconnects with the restored credential.
    await handle.executeUpdate(confirmCutoverUpdate, {
      args: [{ consumer: 'ops', version: 3, identity: await identityToken(stack.file, 'carol') }],
    });
    await onNew.end();
    const onRestored = await session(original);
    try {
      const result = await handle.result();
      expect(result).toMatchObject({ outcome: 'rolled_back', attemptedVersion: 2, restoredVersion: 3 });
      expect(result.outcome === 'rolled_back' && result.pendingRevocation).toBeUndefined();
    } finally {
      await onRestored.end();
    }
    expect(await logsIn(attempted)).toBe(false); // revoked once nobody used it
    expect(await logsIn(original)).toBe(true);
  });

  it('a consumer that never confirms the restored version keeps the attempted one, and the outcome and audit log say so', async () => {
    const original = (await kvVersion(stack, 'rb-stuck')).data;
    const handle = await startRotation(stack, 'rb-stuck');
    await waitForStatus(stack, handle.workflowId, (s) => s.phase === 'awaiting_confirmation');
    const attempted = (await kvVersion(stack, 'rb-stuck')).data;
    await handle.executeUpdate(confirmCutoverUpdate, {
      args: [{ consumer: 'ops', version: 2, identity: await identityToken(stack.file, 'carol') }],
    });

    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'rolled_back', restoredVersion: 3, pendingRevocation: { version: 2, consumers: ['ops'] } });
    expect(await logsIn(attempted)).toBe(true); // ops still uses it
    expect(await logsIn(original)).toBe(true);
    const su = await superuserClient(stack.file, 'rotor');
    try {
      const rows = await su.query(
        "SELECT detail FROM audit_log WHERE workflow_id = 'rotate/rb-stuck' AND step = 'rotation_finished' ORDER BY seq DESC LIMIT 1",
      );
      expect(rows.rows[0].detail).toMatchObject({ outcome: 'rolled_back', pendingRevocationOf: 2, pendingFor: 'ops' });
    } finally {
      await su.end();
    }
  });
});

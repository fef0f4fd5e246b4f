import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_REQUIRED } from '../../config/workflow-inputs.js';
import type { RotationResult, RotationStatus } from '../../workflows/rotation-types.js';
import { identityToken } from '../helpers/operators.js';
import { kvVersion, postgresSecretYaml, seed, startRotation, waitForStatus } from '../helpers/rotation-fixtures.js';
import { canLogin, startTestStack, superuserClient, type TestStack } from '../helpers/test-stack.js';
import { launchChromium, type TemporalUi, withFreshUi } from './temporal-ui.js';

/**
 * The manual trigger of DESIGN.md, end to end: a person opens the Temporal Web UI served by the
 * dev server, starts `rotateSecret` from the Start Workflow form, and confirms a manual consumer
 * with "Send an Update". A confirmation carries a Vault identity token the person minted (a name
 * typed into the dialog proves nothing and is refused). Headless Debian Chromium drives the real UI
 * against the real stack.
 */
describe('rotations driven from the Temporal Web UI', () => {
  let stack: TestStack;
  let browser: Browser;
  let uiBase: string;

  const inventory = () =>
    `secrets:\n${postgresSecretYaml('ui-db')}${postgresSecretYaml('ui-manual-db', `      - name: ops\n        confirm: { mode: manual, timeout: 2m }`)}`;

  beforeAll(async () => {
    stack = await startTestStack('ui', inventory());
    expect(await seed(stack, 'ui-db')).toBe(1);
    expect(await seed(stack, 'ui-manual-db')).toBe(1);
    uiBase = `http://127.0.0.1:${stack.file.ports.temporalUi}`;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  /** A fresh page per test; on failure the page is saved to .rotor/test/ui-failure.png before the error is rethrown. */
  function withUi(body: (ui: TemporalUi) => Promise<void>): Promise<void> {
    return withFreshUi(browser, uiBase, join(stack.file.stateDir, 'ui-failure.png'), async (ui) => {
      // The UI encodes what it sends (inputs, update data) with rotor's codec: an operator logs in to it once.
      expect(await ui.codecLogin(stack.file.codec.token)).toBe(200);
      await body(ui);
    });
  }

  it('Start Workflow form → rotateSecret completes, Vault holds version 2 and the new password logs in', async () => {
    const before = await kvVersion(stack, 'ui-db');
    expect(before.version).toBe(1);
    await withUi(async (ui) => {
      await ui.startWorkflow({
        workflowId: 'rotate/ui-db',
        taskQueue: stack.taskQueue,
        workflowType: 'rotateSecret',
        input: { secretId: 'ui-db', requestedBy: 'temporal-ui' },
      });
      const result = (await stack.client.workflow.getHandle('rotate/ui-db').result()) as RotationResult;
      expect(result, JSON.stringify(result)).toMatchObject({ outcome: 'rotated', secretId: 'ui-db', fromVersion: 1, toVersion: 2 });
      // The person who started it sees it finished on the workflow page.
      await ui.openWorkflow('rotate/ui-db');
      await ui.waitForStatus('Completed');
    });
    const after = await kvVersion(stack, 'ui-db');
    expect(after.version).toBe(2);
    expect(after.data.username).not.toBe(before.data.username);
    expect(await canLogin(stack.file, after.data.username, after.data.password)).toBe(true);
    // The UI's single JSON payload reached the workflow whole: the audit log names its requester.
    const su = await superuserClient(stack.file, 'rotor');
    try {
      const rows = await su.query<{ actor: string }>('SELECT DISTINCT actor FROM audit_log WHERE workflow_id = $1', ['rotate/ui-db']);
      expect(rows.rows.map((r) => r.actor)).toEqual(['temporal-ui']);
    } finally {
      await su.end();
    }
  });

  it('a manual consumer is confirmed from the workflow page with "Send an Update" (confirmCutover) carrying an identity token', async () => {
    const handle = await startRotation(stack, 'ui-manual-db');
    await waitForStatus(stack, handle.workflowId, (s) => s.phase === 'awaiting_confirmation' && s.toVersion === 2, 60_000);
    await withUi(async (ui) => {
      // A slip of the finger is refused by the update validator, shown in the dialog, and changes nothing.
      expect(await ui.sendUpdate(handle.workflowId, 'confirmCutover', { consumer: 'ops', version: 99 })).toEqual({
        failure: 'version 99 is not the promoted version 2',
      });
      const still = await handle.query<RotationStatus>('status');
      expect(still).toMatchObject({ phase: 'awaiting_confirmation', consumers: [{ name: 'ops', status: 'notified' }] });
      // A name typed into the dialog is a claim, not a proof: refused, shown, and nothing changes.
      const declared = await ui.sendUpdate(handle.workflowId, 'confirmCutover', {
        consumer: 'ops',
        version: 2,
        confirmedBy: 'ui-operator',
      });
      expect(declared.failure).toMatch(/^identity: required/);
      expect(declared).toEqual({ failure: IDENTITY_REQUIRED });
      expect(await handle.query<RotationStatus>('status')).toMatchObject({
        phase: 'awaiting_confirmation',
        consumers: [{ name: 'ops', status: 'notified' }],
      });
      // With a token carol minted for this action (as `rotor confirm` sends), the same dialog confirms, as carol.
      const identity = await identityToken(stack.file, 'carol');
      expect(await ui.sendUpdate(handle.workflowId, 'confirmCutover', { consumer: 'ops', version: 2, identity })).toEqual({});
    });
    const result = (await handle.result()) as RotationResult;
    expect(result, JSON.stringify(result)).toMatchObject({ outcome: 'rotated', fromVersion: 1, toVersion: 2 });
    expect(result.outcome === 'rotated' && result.consumers).toEqual([
      expect.objectContaining({ name: 'ops', status: 'confirmed', confirmedVersion: 2, confirmedBy: 'carol' }),
    ]);
    const after = await kvVersion(stack, 'ui-manual-db');
    expect(after.version).toBe(2);
    expect(await canLogin(stack.file, after.data.username, after.data.password)).toBe(true);
  });

  it('an emergency rotation started from the Start Workflow form is refused: emergency mode is incident response only', async () => {
    const workflowId = `ui-emergency/${stack.taskQueue}`;
    await withUi(async (ui) => {
      await ui.startWorkflow({
        workflowId,
        taskQueue: stack.taskQueue,
        workflowType: 'rotateSecret',
        input: { secretId: 'ui-db', emergency: true, reason: 'clicked in the UI' },
      });
      const err = await stack.client.workflow
        .getHandle(workflowId)
        .result()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause?.message ?? '').toMatch(
        /emergency rotation of ui-db refused: emergency mode is started only by incident response/,
      );
      await ui.openWorkflow(workflowId);
      await ui.waitForStatus('Failed');
    });
    expect((await kvVersion(stack, 'ui-db')).version).toBe(2); // unchanged since the rotation above
  });

  it('malformed input from the Start Workflow form fails the run at once, naming the missing field', async () => {
    const workflowId = `ui-bad-input/${stack.taskQueue}`;
    await withUi(async (ui) => {
      await ui.startWorkflow({ workflowId, taskQueue: stack.taskQueue, workflowType: 'rotateSecret', input: { secret: 'x' } });
      const err = await stack.client.workflow
        .getHandle(workflowId)
        .result()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const message = (err as WorkflowFailedError).cause?.message ?? '';
      expect(message).toContain('invalid rotateSecret input');
      expect(message).toContain('secretId');
      // The person who started it sees the run failed, and why, on the workflow page.
      await ui.openWorkflow(workflowId);
      await ui.waitForStatus('Failed');
      await ui.page.getByText('invalid rotateSecret input: secretId', { exact: false }).first().waitFor();
    });
  });
});

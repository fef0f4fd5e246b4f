import { execFileSync } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../config/repo-root.js';
import { createWorker } from '../../workers/create-worker.js';
import type { RotationResult } from '../../workflows/rotation-types.js';
import { kvVersion, postgresSecretYaml, seed, startRotation, waitForStatus } from '../helpers/rotation-fixtures.js';
import { canLogin, connectTestStack, createLogger, type StackConnection } from '../helpers/test-stack.js';

/**
 * The last release before the workflow change of issue #15 (confirm mode sessions, an unknown
 * mode no longer counted as confirmed). Move it forward to the last release whenever a workflow
 * changes: this test upgrades from it.
 */
const OLD_RELEASE = 'bd0b624';

/**
 * A rotation asleep in its overlap when the worker is upgraded resumes on the new code by replaying
 * its history (docs/versioning.md). Here the old code is the workflow code of OLD_RELEASE, taken
 * from git and bundled: the rotation starts on it, the worker stops in the overlap, a worker of
 * today's code takes over and must finish the rotation (old credential refused, new one current).
 */
describe('a rotation started on the previous release completes after the worker is upgraded', () => {
  let stack: StackConnection;
  const oldTree = join(REPO_ROOT, '.rotor', 'test', `release-${OLD_RELEASE}`);

  beforeAll(async () => {
    stack = await connectTestStack('upgrade', `secrets:\n${postgresSecretYaml('upgrade-db', '', '20s')}`);
    await rm(oldTree, { recursive: true, force: true });
    await mkdir(oldTree, { recursive: true });
    // Inside the repo, so the old code resolves @temporalio/* and zod from today's node_modules.
    const archive = execFileSync('git', ['-C', REPO_ROOT, 'archive', OLD_RELEASE, 'workflows', 'config', 'activities', 'vault']);
    execFileSync('tar', ['-x', '-C', oldTree], { input: archive });
  });
  afterAll(async () => {
    await stack?.connection.close();
    await rm(oldTree, { recursive: true, force: true });
  });

  it('old worker → rotation asleep in its overlap → worker upgraded → rotated', { timeout: 180_000 }, async () => {
    const logger = createLogger('warn');
    const oldBundle = await bundleWorkflowCode({
      workflowsPath: join(oldTree, 'workflows', 'index.ts'),
      preloadModules: [join(oldTree, 'workflows', 'zod-preload.ts')],
      logger: new DefaultLogger('WARN'),
    });
    const old = await createWorker(stack.env, logger, { workflowBundle: { code: oldBundle.code } });
    const oldRun = old.worker.run();
    let handle;
    let before;
    try {
      expect(await seed(stack, 'upgrade-db')).toBe(1);
      before = await kvVersion(stack, 'upgrade-db');
      handle = await startRotation(stack, 'upgrade-db');
      await waitForStatus(stack, handle.workflowId, (s) => s.phase === 'overlap', 90_000);
    } finally {
      old.worker.shutdown();
      await oldRun;
      await old.close();
    }

    const upgraded = await createWorker(stack.env, logger, { workflowBundle: { codePath: stack.workflowBundle } });
    const upgradedRun = upgraded.worker.run();
    try {
      // A nondeterminism error fails the workflow task over and over: report it instead of waiting.
      const watching = { done: false };
      const result = (await Promise.race([handle.result(), firstTaskFailure(handle, watching)]).finally(
        () => (watching.done = true),
      )) as RotationResult;
      expect(result).toMatchObject({ outcome: 'rotated', fromVersion: 1, toVersion: 2 });
      const current = await kvVersion(stack, 'upgrade-db');
      expect(current.version).toBe(2);
      expect(await canLogin(stack.file, current.data.username, current.data.password)).toBe(true);
      expect(await canLogin(stack.file, before.data.username, before.data.password)).toBe(false);
    } finally {
      upgraded.worker.shutdown();
      await upgradedRun;
      await upgraded.close();
    }
  });
});

/** Rejects with the first failed workflow task's message (a replay that did not match its history). */
async function firstTaskFailure(handle: WorkflowHandle, watching: { done: boolean }): Promise<never> {
  while (!watching.done) {
    const history = await handle.fetchHistory();
    const failed = history.events?.find((e) => e.workflowTaskFailedEventAttributes);
    if (failed)
      throw new Error(`workflow task failed on the upgraded worker: ${failed.workflowTaskFailedEventAttributes?.failure?.message}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return new Promise<never>(() => undefined); // the rotation ended first
}

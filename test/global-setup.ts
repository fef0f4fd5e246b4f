import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { up } from '../stack/up.js';
import { WORKFLOWS_PATH, WORKFLOW_BUNDLER_OPTIONS } from '../workers/create-worker.js';
import { step } from '../stack/progress.js';

/** Starts the real stack once per test run and bundles the workflow code once for every worker. */
export default async function setup(): Promise<() => Promise<void>> {
  const stack = await up('test');
  try {
    const bundle = await step('bundling workflow code', () =>
      bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, ...WORKFLOW_BUNDLER_OPTIONS, logger: new DefaultLogger('WARN') }),
    );
    await writeFile(join(stack.stateDir, 'workflow-bundle.js'), bundle.code);
  } catch (err) {
    await stack.stop();
    throw err;
  }
  return () => stack.stop();
}

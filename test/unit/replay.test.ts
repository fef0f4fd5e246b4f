import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { WORKFLOW_BUNDLER_OPTIONS, WORKFLOWS_PATH } from '../../workers/create-worker.js';
import { historyFromFile } from '../replay/history-file.js';

/** Replays every history in `folder` on the current workflow code; the files whose replay failed, with why. */
async function replayAll(folder: string): Promise<{ files: number; failures: string[] }> {
  const dir = fileURLToPath(new URL(`../replay/${folder}/`, import.meta.url));
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  const names = new Map<string, string>();
  async function* histories() {
    for (const file of files) {
      const { workflowId, history } = historyFromFile(await readFile(dir + file, 'utf8'));
      names.set(workflowId, file);
      yield { workflowId, history };
    }
  }
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories(
    { workflowsPath: WORKFLOWS_PATH, bundlerOptions: WORKFLOW_BUNDLER_OPTIONS, replayName: 'rotor-replay' },
    histories(),
  )) {
    if (result.error) failures.push(`${names.get(result.workflowId)}: ${result.error.message.slice(0, 600)}`);
  }
  return { files: files.length, failures };
}

/**
 * Rotations sleep for hours in their overlap, so a worker upgrade meets histories that older code
 * wrote. Every history under test/replay/histories/ (recorded with test/replay/record-histories.ts
 * from the code of its day) must replay on today's workflow code without a nondeterminism error.
 * docs/versioning.md says how to change a workflow so that it does.
 */
describe('replay of recorded histories', () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });

  it('replays every recorded history on the current workflow code', { timeout: 120_000 }, async () => {
    const { files, failures } = await replayAll('histories');
    expect(files).toBeGreaterThan(40);
    expect(failures).toEqual([]);
  });

  // A breakGlass whose last approval's update handler was still awaiting its audit row when the
  // grant started does not replay, on the code that recorded it either (found by this test; a
  // worker restart during such a grant stalls it). Kept to be fixed under issue #13: once they
  // replay, this test fails, and the files move to histories/.
  it('still fails on the breakGlass histories known not to replay', { timeout: 120_000 }, async () => {
    const { files, failures } = await replayAll('known-nondeterministic');
    expect(files).toBe(3);
    expect(failures).toHaveLength(3);
    for (const failure of failures) expect(failure).toMatch(/Nondeterminism error: .*WorkflowExecutionUpdateCompleted/);
  });
});

import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { WORKFLOW_BUNDLER_OPTIONS, WORKFLOWS_PATH } from '../../workers/create-worker.js';
import { historyFromFile } from '../replay/history-file.js';

/** Replays every history in `folder` on the current workflow code; the files whose replay failed, with why. */
async function replayAll(folder: string, only: (file: string) => boolean = () => true): Promise<{ files: number; failures: string[] }> {
  const dir = fileURLToPath(new URL(`../replay/${folder}/`, import.meta.url));
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json') && only(f)).sort();
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

  // In breakGlass before Patch.DECISIONS_ANSWERED_BEFORE_GRANT the deciding approval's handler was
  // still writing its audit row (a local activity) when the workflow checked the freeze (another)
  // and scheduled issueGrant: the one that came back first wrote its command first. Such histories
  // did not replay on the code that recorded them (issue #13); workflows/legacy/grant-race-v1.ts
  // replays them in the order they ran. Both orders are recorded: keep it so.
  it('replays breakGlass histories whose deciding approval raced the grant, in either order', { timeout: 120_000 }, async () => {
    const raced: Record<string, 'answered first' | 'grant first'> = {
      'v1-breakGlass-revoked-break-glass-bg-ops-1796008255926.json': 'answered first',
      'v1-breakGlass-revoked-break-glass-clie-bg-2026-11-30t03-11-34-472z.json': 'answered first',
      'v1-breakGlass-revoked-break-glass-inc-bg-1796008243287.json': 'answered first',
      'v1-breakGlass-revoked-break-glass-bg-short-1796008258079.json': 'grant first',
    };
    const dir = fileURLToPath(new URL('../replay/histories/', import.meta.url));
    for (const [file, order] of Object.entries(raced)) {
      const { history } = JSON.parse(await readFile(dir + file, 'utf8')) as { history: { events: { eventType: string }[] } };
      const types = history.events.map((e) => e.eventType);
      const grant = types.indexOf('EVENT_TYPE_ACTIVITY_TASK_SCHEDULED'); // issueGrant
      const deciding = types.lastIndexOf('EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED', grant);
      const answered = types.indexOf('EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED', deciding);
      expect(answered < grant ? 'answered first' : 'grant first', file).toBe(order);
    }
    const { failures } = await replayAll('histories', (f) => f in raced);
    expect(failures).toEqual([]);
  });
});

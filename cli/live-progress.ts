import type { WorkflowHandle } from '@temporalio/client';
import type { QueryDefinition } from '@temporalio/common';

/**
 * Polls a workflow query and prints a time-stamped line whenever its rendering changes (long
 * work shows progress). Returns the function that stops it. Prints nothing when `quiet` (--json).
 */
export function liveProgress<T>(
  handle: WorkflowHandle,
  query: QueryDefinition<T>,
  render: (state: T) => string,
  quiet: boolean,
  everyMs = 500,
): () => void {
  let last = '';
  const timer = setInterval(() => {
    void handle
      .query(query)
      .then((state) => {
        const line = render(state);
        if (line !== last && !quiet) console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
        last = line;
      })
      .catch(() => undefined);
  }, everyMs);
  return () => clearInterval(timer);
}

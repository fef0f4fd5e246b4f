// Preloaded (node --import) into the worker `npm start` runs, so that the worker goes when its
// launcher goes, even when the launcher is SIGKILLed and cannot stop it: a leftover worker would
// otherwise serve the next stack with old code and an old inventory. The launcher holds the other
// end of our stdin (a pipe, see `lifeline` in managed-process.ts); when it dies the kernel closes
// that end and we read end-of-file. Plain JavaScript: it is loaded beside tsx, not through it.
import { fstatSync } from 'node:fs';
import { setTimeout } from 'node:timers';
import { isMainThread } from 'node:worker_threads';

/** As long as the launcher gives a worker between SIGTERM and SIGKILL (managed-process.ts). */
const GRACE_MS = 10_000;

function launcherGone() {
  process.stderr.write('rotor worker: its launcher is gone (stdin closed); shutting down\n');
  // Should the graceful shutdown hang, exit anyway; unref'd, so it never keeps us alive.
  setTimeout(() => process.exit(1), GRACE_MS).unref();
  // The worker's own graceful path (Temporal's Runtime handles SIGTERM); one still starting just ends.
  process.kill(process.pid, 'SIGTERM');
}

// --import also runs in the worker's threads (workflow sandbox), whose stdin is no lifeline; and
// only a pipe is one: stdin from a terminal or /dev/null says nothing about a launcher.
const stdin = isMainThread ? fstatSync(0) : undefined;
if (stdin?.isFIFO() || stdin?.isSocket()) {
  process.stdin.once('end', launcherGone);
  process.stdin.once('error', launcherGone);
  process.stdin.resume();
  // Watching must not keep a worker that has finished alive.
  process.stdin.unref();
}

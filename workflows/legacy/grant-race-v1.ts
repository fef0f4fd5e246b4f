import { condition } from '@temporalio/workflow';

/**
 * The order in which breakGlass's racing local activities came back, for histories written before
 * Patch.DECISIONS_ANSWERED_BEFORE_GRANT.
 *
 * Then, the deciding approval's update handler was still writing its audit row (a local activity)
 * when the workflow went on to check the freeze (another one) and schedule `issueGrant`: whichever
 * result came back first put its command first in history (the update's completion, or the
 * activity). Live, the results came back in activations of their own; on replay Core hands both
 * over in one activation, in the order their markers were written, and the workflow's shorter
 * continuation won whatever the order: such a history did not replay on the code that wrote it.
 *
 * Every result that takes part notes its arrival here (`arrival`, one reaction deep on the local
 * activity's promise, so the notes run in the order the results were handed over), waits for its
 * `turn` (every step whose result arrived before it has issued its command) and says it is `done`
 * once its command is out. A v1 history replays as it ran. Frozen: it preserves commands.
 */
export class ArrivalOrderV1 {
  private readonly arrived: string[] = [];
  private readonly finished = new Set<string>();

  /** Notes when `result` settles, under `key`; returns `result` itself. */
  arrival<T>(key: string, result: Promise<T>): Promise<T> {
    const note = () => {
      this.arrived.push(key);
    };
    result.then(note, note);
    return result;
  }

  /** Resolves once every step that arrived before `key` is done (at once if `key` never arrived). */
  turn(key: string): Promise<void> {
    return condition(() => {
      const at = this.arrived.indexOf(key);
      return at < 0 || this.arrived.slice(0, at).every((k) => this.finished.has(k));
    });
  }

  /** `key` has issued its command (or has none to issue): the steps behind it may go. */
  done(key: string): void {
    this.finished.add(key);
  }
}

import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The test side of activities/failpoint.ts: hold a worker at a named point, see it arrive, let it go. */
export class Failpoints {
  constructor(readonly dir: string) {}

  async init(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
    await mkdir(this.dir, { recursive: true });
  }

  /** Workers that reach `name` from now on wait there until `release(name)`. */
  hold(name: string): Promise<void> {
    return writeFile(join(this.dir, `${name}.hold`), '');
  }

  release(name: string): Promise<void> {
    return rm(join(this.dir, `${name}.hold`), { force: true });
  }

  /** Pids that reached `name` so far. */
  async arrivals(name: string): Promise<number[]> {
    const file = join(this.dir, `${name}.reached`);
    if (!existsSync(file)) return [];
    return (await readFile(file, 'utf8')).split('\n').filter(Boolean).map(Number);
  }

  /** Resolves once a worker has reached `name` (`count` times in all); throws after `timeoutMs`. */
  async reached(name: string, timeoutMs = 60_000, count = 1): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.arrivals(name)).length < count) {
      if (Date.now() > deadline) throw new Error(`no worker reached failpoint ${name} within ${timeoutMs / 1000}s`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Forgets every hold and arrival. */
  clear(): Promise<void> {
    return this.init();
  }
}

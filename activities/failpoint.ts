import { existsSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Test-only failpoints for the fault-injection suite (test/chaos/). With ROTOR_FAILPOINTS_DIR unset
 * (every real deployment) a failpoint is a no-op. With it set, reaching failpoint `name` appends
 * this process's pid to `<dir>/<name>.reached`, then waits while `<dir>/<name>.hold` exists: the
 * suite holds a worker exactly between two writes and injects a real fault there (SIGKILL, a
 * sealed Vault, a locked table). The failpoint never fails anything itself.
 */
export async function failpoint(name: string): Promise<void> {
  const dir = process.env.ROTOR_FAILPOINTS_DIR;
  if (!dir) return;
  await appendFile(join(dir, `${name}.reached`), `${process.pid}\n`);
  while (existsSync(join(dir, `${name}.hold`))) await new Promise((resolve) => setTimeout(resolve, 20));
}

import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Runs `npm ci` when node_modules is missing or older than package-lock.json; otherwise nothing. */
export function ensureDependencies() {
  const lock = join(root, 'package-lock.json');
  const installed = join(root, 'node_modules', '.package-lock.json');
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) return;
  const started = Date.now();
  console.log('[rotor] installing npm dependencies (npm ci) ...');
  // No package we use needs an install script; skipping them keeps npm 11 from prompting.
  const result = spawnSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('[rotor] ERROR: npm ci failed\n  fix: check access to the npm registry, then run again');
    process.exit(result.status ?? 1);
  }
  console.log(`[rotor] installing npm dependencies: done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

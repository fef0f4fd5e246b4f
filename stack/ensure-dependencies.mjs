import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Installs from package-lock.json when node_modules is missing or older than it; otherwise nothing.
 * `npm install` rather than `npm ci`: npm 11's ci rejects lockfiles that omit other platforms'
 * optional binaries (swc, unrs), which npm itself writes that way.
 */
export function ensureDependencies() {
  const lock = join(root, 'package-lock.json');
  const installed = join(root, 'node_modules', '.package-lock.json');
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) return;
  const started = Date.now();
  console.log('[rotor] installing npm dependencies (npm install from package-lock.json) ...');
  // No package we use needs an install script; skipping them keeps npm 11 from prompting.
  const result = spawnSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('[rotor] ERROR: npm install failed\n  fix: check access to the npm registry, then run again');
    process.exit(result.status ?? 1);
  }
  console.log(`[rotor] installing npm dependencies: done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

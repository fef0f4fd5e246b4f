// `npm test`: install dependencies when needed, build or install the servers (cached), then run
// vitest, whose global setup starts the stack in test mode. Extra arguments go to vitest.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { ensureDependencies } from './ensure-dependencies.mjs';

ensureDependencies();
const run = (args) => spawnSync(process.execPath, args, { stdio: 'inherit' }).status ?? 1;
const tools = run(['--import', 'tsx', 'stack/main.ts', 'test-tools']);
if (tools !== 0) process.exit(tools);
// Type errors and lint failures fail the run like a failing test does.
for (const [label, args] of [
  ['typecheck', ['node_modules/typescript/bin/tsc', '--noEmit', '-p', '.']],
  ['lint', ['node_modules/eslint/bin/eslint.js', '.']],
]) {
  console.log(`[rotor] ${label} ...`);
  const code = run(args);
  if (code !== 0) process.exit(code);
}
const report = '.rotor/vitest-report.json';
const code = run([
  'node_modules/vitest/vitest.mjs',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
  ...process.argv.slice(2),
]);
// A plain closing line any CI can read, whatever vitest's own summary looks like.
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  console.log(`\nvitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
}
process.exit(code);

// `npm test`: install dependencies when needed, build or install the servers (cached), type-check,
// lint and check formatting, then run vitest, whose integration project's global setup starts the
// stack in test mode. Extra arguments go to vitest. When they select unit tests only
// (`npm test -- test/unit`, `npm test -- --project=unit`), no server is built or started.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { ensureDependencies } from './ensure-dependencies.mjs';

/** vitest options whose value may follow as the next argument (`-t name`): that value is no file filter. */
const OPTIONS_WITH_VALUE = new Set([
  '-t',
  '--testNamePattern',
  '--reporter',
  '--outputFile',
  '--shard',
  '--maxWorkers',
  '--retry',
  '--bail',
  '--exclude',
]);

/**
 * True when the vitest arguments select the unit project only: every `--project` is `unit`, or
 * every file filter is a unit test (`test/unit…`, `….unit.test.ts`). Anything else (no filter, an
 * integration file, an option we do not know) counts as needing the stack.
 */
function unitOnly(args) {
  const projects = [];
  const filters = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg.startsWith('--project=')) projects.push(arg.slice('--project='.length));
    else if (arg === '--project') projects.push(args[++i] ?? '');
    else if (OPTIONS_WITH_VALUE.has(arg)) i++;
    else if (!arg.startsWith('-')) filters.push(arg);
  }
  if (projects.length) return projects.every((p) => p === 'unit');
  return filters.length > 0 && filters.every((f) => /^(\.\/)?test\/unit(\/|$)/.test(f) || /\.unit\.test\.ts$/.test(f));
}

const args = process.argv.slice(2);
ensureDependencies();
const run = (command) => spawnSync(process.execPath, command, { stdio: 'inherit' }).status ?? 1;
const tools = run(['--import', 'tsx', 'stack/main.ts', unitOnly(args) ? 'unit-tools' : 'test-tools']);
if (tools !== 0) process.exit(tools);
// Type errors, lint failures and unformatted files fail the run like a failing test does.
for (const [label, command] of [
  ['typecheck', ['node_modules/typescript/bin/tsc', '--noEmit', '-p', '.']],
  ['lint', ['node_modules/eslint/bin/eslint.js', '.']],
  ['format (prettier --check; fix with npm run format)', ['node_modules/prettier/bin/prettier.cjs', '--check', '--log-level=warn', '.']],
]) {
  console.log(`[rotor] ${label} ...`);
  const code = run(command);
  if (code !== 0) process.exit(code);
}
const report = '.rotor/vitest-report.json';
const code = run([
  'node_modules/vitest/vitest.mjs',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
  ...args,
]);
// A plain closing line any CI can read, whatever vitest's own summary looks like.
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  console.log(`\nvitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
}
if (code !== 0) process.exit(code);
// The whole suite (no file filter) also runs the bounded fault-injection subset on a stack of its
// own: `npm run chaos -- --ci`. `npm run chaos -- [rounds]` runs every scenario.
if (args.length === 0) {
  console.log('[rotor] fault injection (npm run chaos -- --ci) ...');
  const chaos = run(['--import', 'tsx', 'test/chaos/main.ts', '--ci']);
  console.log(`chaos: ${chaos === 0 ? 'no invariant violated' : 'FAILED (see the table above)'}`);
  process.exit(chaos);
}
process.exit(code);

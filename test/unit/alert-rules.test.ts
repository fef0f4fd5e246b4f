import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ensurePrometheus } from '../../stack/tools.js';

/**
 * deploy/prometheus/rotor-alerts.yml checked and unit-tested by promtool (Debian's prometheus
 * package, installed by stack/tools.ts), as CI would before shipping a rule change.
 */

const rulesDir = fileURLToPath(new URL('../../deploy/prometheus', import.meta.url));
const RULES = join(rulesDir, 'rotor-alerts.yml');
const TESTS = join(rulesDir, 'rotor-alerts.test.yml');

let promtool: string;
const run = (...args: string[]) => {
  const r = spawnSync(promtool, args, { encoding: 'utf8' });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
};

describe('alert rules', () => {
  let scratch: string;
  beforeAll(async () => {
    promtool = (await ensurePrometheus()).promtool;
    scratch = mkdtempSync(join(tmpdir(), 'rotor-alerts-'));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('are valid rules (promtool check rules)', () => {
    const r = run('check', 'rules', RULES);
    expect(r.output).toContain('SUCCESS: 8 rules found');
    expect(r.code).toBe(0);
  });

  it('fire, and stay quiet, as their unit tests expect (promtool test rules)', () => {
    const r = run('test', 'rules', TESTS);
    expect(r.output).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('have a unit test for every alert the rules define', () => {
    const alerts = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((g) =>
      g.rules.map((r) => r.alert),
    );
    const tested = readFileSync(TESTS, 'utf8');
    for (const alert of alerts) expect(tested, alert).toContain(`alertname: ${alert}`);
  });

  it('are tested tightly enough that a changed threshold fails the tests', () => {
    // The same tests against rules whose overdue factor is 3 instead of 1.5: promtool must fail.
    writeFileSync(join(scratch, 'rotor-alerts.yml'), readFileSync(RULES, 'utf8').replaceAll('> 1.5 *', '> 3 *'));
    copyFileSync(TESTS, join(scratch, 'rotor-alerts.test.yml'));
    const r = run('test', 'rules', join(scratch, 'rotor-alerts.test.yml'));
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('RotorRotationOverdue');
  });
});

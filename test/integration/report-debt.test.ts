import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SecretStatus } from '../../cli/commands/status.js';
import type { DebtReport } from '../../cli/debt-report.js';
import { kvVersion, postgresSecretYaml, rotate, seed } from '../helpers/rotation-fixtures.js';
import { cliEnv, describeRun, killRunningClis, runCli, type CliRun } from '../helpers/run-cli.js';
import { startTestStack, type TestStack } from '../helpers/test-stack.js';

/** One postgres secret of the fixtures, with its own owner and (optionally) a cadence. */
const secretYaml = (id: string, owner: string, cadence?: string, consumers = '') =>
  postgresSecretYaml(id, consumers)
    .replace('owner: team-test', `owner: ${owner}`)
    .replace('    consumers:', cadence ? `    cadence: ${cadence}\n    consumers:` : '    consumers:');

/**
 * debt-ok: every 1h, rotated once; debt-none: no cadence, seeded only; debt-rb: every 1h, its one
 * rotation rolled back (a manual consumer that never confirms within 2 s).
 */
const inventory = `secrets:\n${[
  secretYaml('debt-ok', 'team-debt-a', '{ every: 1h }'),
  secretYaml('debt-none', 'team-debt-a'),
  secretYaml('debt-rb', 'team-debt-b', '{ every: 1h }', '      - name: ops\n        confirm: { mode: manual, timeout: 2s }'),
].join('')}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('rotor report debt, run by an operator', () => {
  let stack: TestStack;
  let env: NodeJS.ProcessEnv;
  const unmanagedPath = `legacy/debt-unmanaged-${randomBytes(4).toString('hex')}`;
  const unmanagedValue = `legacy-api-key-${randomBytes(12).toString('hex')}`;
  /** Every value a report must never show: all versions of the three secrets, and the unmanaged one. */
  const values: string[] = [unmanagedValue];
  const rotor = (...args: string[]) => runCli(args, { env });
  const expectExit = (run: CliRun, code: number) => expect(run.code, describeRun(run)).toBe(code);
  let startedAt: number;

  beforeAll(async () => {
    startedAt = Date.now();
    stack = await startTestStack('report-debt', inventory);
    env = await cliEnv(stack, 'alice');
    for (const id of ['debt-ok', 'debt-none', 'debt-rb']) expect(await seed(stack, id)).toBe(1);
    expect(await rotate(stack, 'debt-ok')).toMatchObject({ outcome: 'rotated', toVersion: 2 });
    expect(await rotate(stack, 'debt-rb')).toMatchObject({ outcome: 'rolled_back', restoredVersion: 3 });
    await stack.rootVault.kvWrite(stack.env.ROTOR_VAULT_KV_MOUNT, unmanagedPath, { apiKey: unmanagedValue });
    for (const [id, latest] of [
      ['debt-ok', 2],
      ['debt-none', 1],
      ['debt-rb', 3],
    ] as const)
      for (let v = 1; v <= latest; v++) values.push((await kvVersion(stack, id, v)).data.password);
    expect(values.every((v) => v.length >= 8)).toBe(true);
  });

  afterAll(async () => {
    killRunningClis();
    await stack?.rootVault.kvDeleteAll(stack.env.ROTOR_VAULT_KV_MOUNT, unmanagedPath).catch(() => undefined);
    await stack?.close();
  });

  const expectNoValue = (run: CliRun) => {
    for (const v of values) expect(run.stdout + run.stderr, `a secret value in: rotor ${run.args.join(' ')}`).not.toContain(v);
  };

  it('--json: ages, compliance, failures, unmanaged paths, leases and owner scores, with no value', async () => {
    // Workflow listing is eventually consistent: wait until both closed runs show their outcome.
    let run: CliRun | undefined;
    let report: DebtReport | undefined;
    for (let attempt = 0; attempt < 15; attempt++) {
      run = await rotor('report', 'debt', '--json');
      expectExit(run, 0);
      report = JSON.parse(run.stdout) as DebtReport;
      const outcome = (id: string) => report!.secrets.find((s) => s.id === id)?.lastRotation?.outcome;
      if (outcome('debt-ok') === 'rotated' && outcome('debt-rb') === 'rolled_back') break;
      await sleep(1000);
    }
    expectNoValue(run!);
    const r = report!;
    const byId = (id: string) => r.secrets.find((s) => s.id === id)!;
    expect(r.secrets.map((s) => s.id)).toEqual(['debt-ok', 'debt-none', 'debt-rb']);
    const elapsed = (Date.now() - startedAt) / 1000 + 5;
    for (const s of r.secrets) {
      expect(s.ageSeconds, s.id).toBeGreaterThanOrEqual(0);
      expect(s.ageSeconds!, s.id).toBeLessThan(elapsed);
      expect(Date.parse(s.credentialSince!), s.id).toBeGreaterThan(startedAt - 5000);
    }

    expect(byId('debt-ok')).toMatchObject({
      path: 'apps/debt-ok',
      owner: 'team-debt-a',
      currentVersion: 2,
      lastRotation: { outcome: 'rotated', workflowId: 'rotate/debt-ok' },
      cadence: 'every 1h',
      intervalSeconds: 3600,
      compliance: 'ok',
      consumers: [],
      failures30d: { count: 0 },
    });
    expect(byId('debt-ok').lastSuccessAt).not.toBeNull();
    expect(Date.parse(byId('debt-ok').dueBy!) - Date.parse(byId('debt-ok').lastSuccessAt!)).toBe(1.5 * 3600_000);

    expect(byId('debt-none')).toMatchObject({
      currentVersion: 1,
      lastRotation: null,
      lastSuccessAt: null,
      cadence: null,
      compliance: 'no cadence',
      failures30d: { count: 0 },
    });

    const rb = byId('debt-rb');
    expect(rb).toMatchObject({
      owner: 'team-debt-b',
      currentVersion: 3,
      lastRotation: { outcome: 'rolled_back' },
      lastSuccessAt: null,
      // Never rotated successfully: measured from the restored credential, seeded moments ago.
      compliance: 'ok',
      consumers: [{ name: 'ops', mode: 'manual' }],
      failures30d: { count: 1, byOutcome: { rolled_back: 1 }, last: { outcome: 'rolled_back' } },
    });
    // Version 3 is a rollback's copy of version 1: the credential is as old as version 1.
    expect(rb.credentialSince).not.toBe(rb.versionCreatedAt);
    expect(Date.parse(rb.credentialSince!)).toBeLessThan(Date.parse(rb.versionCreatedAt!));

    // The root-written path is unmanaged; the inventory's paths and rotor's own _rotor/ are not listed.
    const unmanaged = r.unmanaged!.find((u) => u.path === unmanagedPath);
    expect(unmanaged).toMatchObject({ currentVersion: 1, deleted: false });
    expect(unmanaged!.ageSeconds).toBeGreaterThanOrEqual(0);
    const listed = r.unmanaged!.map((u) => u.path);
    for (const p of ['apps/debt-ok', 'apps/debt-none', 'apps/debt-rb']) expect(listed).not.toContain(p);
    expect(listed.filter((p) => p.startsWith('_rotor/'))).toEqual([]);

    // alice's policy (rotor-operator) cannot list leases: said, not failed.
    expect(r.leases).toEqual({ visible: false, reason: expect.stringContaining('not visible with your token') as string });

    expect(r.owners).toEqual([
      expect.objectContaining({ owner: 'team-debt-a', secrets: 2, overdue: 0, withoutCadence: 1, paused: 0, failures30d: 0, debt: 2 }),
      expect.objectContaining({ owner: 'team-debt-b', secrets: 1, overdue: 0, withoutCadence: 0, paused: 0, failures30d: 1, debt: 1 }),
    ]);
    expect(r.owners[0]!.line).toMatch(
      /^team-debt-a: debt 2 — 2 secrets, 0 overdue, 1 without cadence, 0 paused, 0 failures in 30d, oldest \d+[smh]$/,
    );
  });

  it('--markdown renders tables; the default table names every secret and owner; neither shows a value', async () => {
    const [markdown, table, both] = await Promise.all([
      rotor('report', 'debt', '--markdown'),
      rotor('report', 'debt'),
      rotor('report', 'debt', '--json', '--markdown'),
    ]);
    expectExit(markdown, 0);
    expect(markdown.stdout).toContain('| secret | owner | age | last rotation | cadence | compliance | consumers | failures 30d |');
    expect(markdown.stdout).toMatch(
      /^\| debt-rb \| team-debt-b \| \d+[smh] \| rolled_back .* \| every 1h \| ok \| ops:manual \| 1 \(1 rolled_back\) \|$/m,
    );
    expect(markdown.stdout).toMatch(/^\| debt-none \| team-debt-a \| .* \| never \| - \| no cadence \| - \| 0 \|$/m);
    expect(markdown.stdout).toContain(`| ${unmanagedPath} | 1 |`);
    expect(markdown.stdout).toContain('- team-debt-a: debt 2');
    expectNoValue(markdown);

    expectExit(table, 0);
    expect(table.stdout.split('\n')[0]).toMatch(/^SECRET\s+OWNER\s+AGE/);
    expect(table.stdout).toMatch(/^debt-ok\s+team-debt-a\s+\d+[smh]\s+rotated .*every 1h\s+ok/m);
    expect(table.stdout).toContain(`  ${unmanagedPath}  v1  age`);
    expect(table.stdout).toContain('long-lived leases: not visible with your token');
    expect(table.stdout).toContain('  team-debt-b: debt 1 — 1 secret, 0 overdue, 0 without cadence, 0 paused, 1 failure in 30d');
    expectNoValue(table);

    expectExit(both, 2);
    expect(both.stderr).toContain('--json and --markdown exclude each other');
  });

  it('a token allowed to list leases sees them (root here)', async () => {
    const run = await runCli(['report', 'debt', '--json'], {
      env: await cliEnv(stack, 'alice', { ROTOR_VAULT_TOKEN: stack.file.vaultRootToken }),
    });
    expectExit(run, 0);
    const leases = (JSON.parse(run.stdout) as DebtReport).leases!;
    expect(leases.visible).toBe(true);
    // At least the read-only audit login this very report was issued.
    if (leases.visible) expect(leases.total).toBeGreaterThan(0);
    expectNoValue(run);
  });

  it('rotor status adds a debt field per secret and one score line per owner', async () => {
    const json = await rotor('status', '--json');
    expectExit(json, 0);
    const rows = JSON.parse(json.stdout) as SecretStatus[];
    expect(rows.find((s) => s.id === 'debt-rb')).toMatchObject({
      currentVersion: 3,
      debt: { compliance: 'ok', lastSuccessAt: null, failures30d: 1 },
    });
    expect(rows.find((s) => s.id === 'debt-none')?.debt).toMatchObject({ compliance: 'no cadence', failures30d: 0 });

    const text = await rotor('status');
    expectExit(text, 0);
    expect(text.stdout).toMatch(/^debt team-debt-a: debt 2 — 2 secrets, 0 overdue, 1 without cadence/m);
    expect(text.stdout).toMatch(/^debt team-debt-b: debt 1 — 1 secret/m);
    expectNoValue(text);
  });
});

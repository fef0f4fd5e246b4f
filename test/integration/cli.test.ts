import { ScheduleNotFoundError, WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SecretStatus } from '../../cli/commands/status.js';
import type { ScheduleChange } from '../../schedules/schedule-changes.js';
import type { RotationResult } from '../../workflows/rotation-types.js';
import { kvVersion, postgresSecretYaml, seed, waitForStatus } from '../helpers/rotation-fixtures.js';
import { cliEnv, describeRun, killRunningClis, runCli, spawnCli, type CliRun } from '../helpers/run-cli.js';
import { startTestStack, type TestStack } from '../helpers/test-stack.js';

const manual = (name: string, timeout: string) => `      - name: ${name}\n        confirm: { mode: manual, timeout: ${timeout} }`;

/** cli-a: no consumers; cli-b: a manual consumer that never confirms in time; cli-c: one that an operator confirms. */
const inventory = (cadenceForA?: string) => {
  const a = postgresSecretYaml('cli-a');
  return `secrets:\n${[
    cadenceForA ? a.replace('    consumers: []', `    cadence: ${cadenceForA}\n    consumers: []`) : a,
    postgresSecretYaml('cli-b', manual('ops', '3s')),
    postgresSecretYaml('cli-c', manual('ops', '2m')),
  ].join('')}`;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the rotor CLI, run as a user runs it', () => {
  let stack: TestStack;
  let env: NodeJS.ProcessEnv;
  const rotor = (...args: string[]) => runCli(args, { env });
  const expectExit = (run: CliRun, code: number) => expect(run.code, describeRun(run)).toBe(code);

  beforeAll(async () => {
    stack = await startTestStack('cli', inventory());
    env = await cliEnv(stack); // logged in as alice
    expect(await seed(stack, 'cli-b')).toBe(1);
    expect(await seed(stack, 'cli-c')).toBe(1);
  });

  afterAll(async () => {
    killRunningClis();
    await stack?.client.schedule
      .getHandle('rotate/cli-a')
      .delete()
      .catch(() => undefined);
    await stack?.close();
  });

  it('help and usage errors: --help lists the commands, no arguments and unknown commands exit 2', async () => {
    const [help, bare, unknown, rotateHelp, badOption, declaredBy] = await Promise.all([
      rotor('--help'),
      rotor(),
      rotor('frobnicate'),
      rotor('rotate', '--help'),
      rotor('rotate', 'cli-a', '--bogus'),
      // Who acts is the logged-in operator: there is no flag to declare someone else.
      rotor('rotate', 'cli-a', '--by', 'mallory'),
    ]);

    expectExit(help, 0);
    for (const command of ['rotate', 'plan', 'status', 'confirm', 'schedules', 'seed', 'audit verify'])
      expect(help.stdout).toContain(`  ${command}`);

    expectExit(bare, 2);
    expect(bare.stdout + bare.stderr).toContain('usage: rotor <command>');

    expectExit(unknown, 2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    expect(unknown.stderr).toContain('rotor --help');

    expectExit(rotateHelp, 0);
    expect(rotateHelp.stdout).toContain('usage: rotor rotate <secret>');
    expect(rotateHelp.stdout).toContain('--wait');
    expect(rotateHelp.stdout).toMatch(/Exit codes: 0 rotated.*3 rolled back/);

    expectExit(badOption, 2);
    expect(badOption.stderr).toContain("'--bogus'");
    expect(badOption.stderr).toContain('rotor rotate --help');

    expectExit(declaredBy, 2);
    expect(declaredBy.stderr).toContain("'--by'");
    expect(rotateHelp.stdout).not.toContain('--by');
    await expect(stack.client.workflow.getHandle('rotate/cli-a').describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });

  it('rotate of a secret not in the inventory exits 2, names it, lists the known ones and starts nothing', async () => {
    const run = await rotor('rotate', 'cli-unknown');
    expectExit(run, 2);
    expect(run.stderr).toContain('unknown secret "cli-unknown"');
    expect(run.stderr).toContain('cli-a, cli-b, cli-c');
    await expect(stack.client.workflow.getHandle('rotate/cli-unknown').describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);

    const seedUnknown = await rotor('seed', 'cli-unknown');
    expectExit(seedUnknown, 2);
    expect(seedUnknown.stderr).toContain('unknown secret "cli-unknown"');

    const missingInventory = await runCli(['rotate', 'cli-a'], {
      env: await cliEnv(stack, 'alice', { ROTOR_INVENTORY: '/nonexistent/inventory.yaml' }),
    });
    expectExit(missingInventory, 2);
    expect(missingInventory.stderr).toContain('/nonexistent/inventory.yaml');
  });

  it('seed gives a new secret version 1; rotate --wait follows the phases and exits 0 at version 2', async () => {
    const seeded = await rotor('seed', 'cli-a');
    expectExit(seeded, 0);
    expect(seeded.stdout).toContain('cli-a: seeded version 1');
    expect((await kvVersion(stack, 'cli-a')).version).toBe(1);

    const again = await rotor('seed', 'cli-a');
    expectExit(again, 0);
    expect(again.stdout).toContain('cli-a: already at version 1');

    const run = await rotor('rotate', 'cli-a', '--wait');
    expectExit(run, 0);
    expect(run.stdout).toMatch(/^\[\d\d:\d\d:\d\d\] phase=\w+/m);
    expect(run.stdout).toContain('rotated cli-a: version 1 → 2');
    expect((await kvVersion(stack, 'cli-a')).version).toBe(2);
  });

  it('rotate --wait --json exits 3 with the rolled_back result when a manual consumer never confirms', async () => {
    const run = await rotor('rotate', 'cli-b', '--wait', '--json');
    expectExit(run, 3);
    const result = JSON.parse(run.stdout) as RotationResult; // --json prints the result only, no phase lines
    expect(result).toMatchObject({
      outcome: 'rolled_back',
      secretId: 'cli-b',
      fromVersion: 1,
      attemptedVersion: 2,
      restoredVersion: 3,
      failedPhase: 'awaiting_confirmation',
    });
    expect((await kvVersion(stack, 'cli-b')).version).toBe(3);
  });

  it('manual confirmation: a second rotate is refused, an unknown consumer is refused, confirm by ops finishes the waiting rotate', async () => {
    const waiting = spawnCli(['rotate', 'cli-c', '--wait'], { env, timeoutMs: 110_000 });
    // Fail fast with its output if the background rotate exits before it reaches the confirmation wait.
    const exitedEarly = waiting.done.then((run) => {
      throw new Error(`the background rotate ended early:\n${describeRun(run)}`);
    });
    exitedEarly.catch(() => undefined);
    const awaiting = await Promise.race([
      waitForStatus(stack, 'rotate/cli-c', (s) => s.phase === 'awaiting_confirmation', 60_000),
      exitedEarly,
    ]);
    expect(awaiting).toMatchObject({ fromVersion: 1, toVersion: 2 });

    // status shows the rotation in flight (once the workflow listing has caught up).
    let inFlight: SecretStatus['inFlight'] | undefined;
    for (let attempt = 0; attempt < 10 && !inFlight?.consumers.length; attempt++) {
      if (attempt) await sleep(500);
      const status = await rotor('status', '--json');
      expectExit(status, 0);
      inFlight = (JSON.parse(status.stdout) as SecretStatus[]).find((s) => s.id === 'cli-c')?.inFlight;
    }
    expect(inFlight).toMatchObject({
      phase: 'awaiting_confirmation',
      fromVersion: 1,
      toVersion: 2,
      consumers: [{ name: 'ops', mode: 'manual', status: expect.stringMatching(/^(waiting|notified)$/) }],
      // Since promotion; ops' two minutes plus the margin before it counts as stuck.
      phaseSince: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      phaseLimitSeconds: 420,
      stuck: false,
    });

    const second = await rotor('rotate', 'cli-c');
    expectExit(second, 1);
    expect(second.stderr).toContain('rotate/cli-c');
    expect(second.stderr).toMatch(/already running/);

    const nobody = await rotor('confirm', 'cli-c', 'nobody');
    expectExit(nobody, 1);
    expect(nobody.stderr).toContain('unknown consumer "nobody"');
    expect(nobody.stderr).toContain('consumers of cli-c: ops');

    // The confirmation is recorded as the operator logged in (carol here), proven to the worker.
    const confirmed = await runCli(['confirm', 'cli-c', 'ops'], { env: await cliEnv(stack, 'carol') });
    expectExit(confirmed, 0);
    expect(confirmed.stdout).toContain('confirmed: ops uses version 2 of cli-c (by carol)');

    const finished = await waiting.done;
    expectExit(finished, 0);
    expect(finished.stdout).toContain('phase=awaiting_confirmation v1→v2');
    expect(finished.stdout).toContain('rotated cli-c: version 1 → 2; consumers: ops confirmed');
    expect((await kvVersion(stack, 'cli-c')).version).toBe(2);

    const late = await rotor('confirm', 'cli-c', 'ops');
    expectExit(late, 1);
    expect(late.stderr).toContain('no rotation of cli-c is running');
  });

  it('status --json reports every secret with its Vault version and last outcome', async () => {
    // Workflow listing is eventually consistent: the last outcome may take a moment to show.
    let run: CliRun | undefined;
    let rows: SecretStatus[] = [];
    const settled = (r: SecretStatus[]) =>
      ['cli-a', 'cli-b', 'cli-c'].every((id) => r.find((s) => s.id === id)?.lastRotation?.outcome != null);
    for (let attempt = 0; attempt < 10; attempt++) {
      run = await rotor('status', '--json');
      expectExit(run, 0);
      rows = JSON.parse(run.stdout) as SecretStatus[];
      if (settled(rows)) break;
      await sleep(1000);
    }
    const byId = (id: string) => rows.find((s) => s.id === id);
    expect(rows.map((s) => s.id)).toEqual(['cli-a', 'cli-b', 'cli-c']);
    expect(byId('cli-a'), describeRun(run!)).toMatchObject({
      path: 'apps/cli-a',
      owner: 'team-test',
      currentVersion: 2,
      lastRotation: { workflowId: 'rotate/cli-a', status: 'COMPLETED', outcome: 'rotated' },
      inFlight: null,
      nextRun: null,
      schedulePaused: null,
    });
    expect(byId('cli-b')).toMatchObject({ currentVersion: 3, lastRotation: { outcome: 'rolled_back' } });
    expect(byId('cli-c')).toMatchObject({ currentVersion: 2, lastRotation: { outcome: 'rotated' } });
  });

  it('schedules: diff shows the create, sync creates it, pause and resume toggle it', async () => {
    await stack.writeInventory(inventory('{ every: 6h }'));
    const foreignDeletes = (changes: ScheduleChange[]) => changes.filter((c) => c.action === 'delete' && !c.secretId.startsWith('cli-'));

    // Schedules are namespace-wide and reconcile deletes every rotor-managed schedule missing from
    // its inventory: wait (bounded) until other test files' schedules are gone, so sync spares them.
    let diffRun: CliRun | undefined;
    let changes: ScheduleChange[] = [];
    for (let deadline = Date.now() + 90_000; ; await sleep(2000)) {
      diffRun = await rotor('schedules', 'diff', '--json');
      expectExit(diffRun, 0);
      changes = JSON.parse(diffRun.stdout) as ScheduleChange[];
      if (!foreignDeletes(changes).length || Date.now() > deadline) break;
    }
    expect(
      changes.filter((c) => c.secretId.startsWith('cli-')),
      describeRun(diffRun),
    ).toEqual([{ action: 'create', scheduleId: 'rotate/cli-a', secretId: 'cli-a', detail: 'every 6h' }]);
    const describeSchedule = () => stack.client.schedule.getHandle('rotate/cli-a').describe();
    await expect(describeSchedule()).rejects.toBeInstanceOf(ScheduleNotFoundError); // diff changes nothing

    const sync = await rotor('schedules', 'sync');
    expectExit(sync, 0);
    expect(sync.stdout).toMatch(/did create\s+rotate\/cli-a\s+every 6h/);
    const created = await describeSchedule();
    expect(created.action).toMatchObject({ type: 'startWorkflow', workflowType: 'rotateSecret', taskQueue: stack.taskQueue });
    expect(created.spec.intervals?.[0]?.every).toBe(6 * 3600 * 1000);
    expect(created.state.paused).toBe(false);

    const pause = await rotor('schedules', 'pause', 'cli-a');
    expectExit(pause, 0);
    expect(pause.stdout).toContain('paused schedule rotate/cli-a');
    const paused = await describeSchedule();
    expect(paused.state.paused).toBe(true);
    expect(paused.state.note).toContain('alice'); // the logged-in operator

    const resume = await rotor('schedules', 'resume', 'cli-a');
    expectExit(resume, 0);
    expect(resume.stdout).toContain('resumed schedule rotate/cli-a');
    expect((await describeSchedule()).state.paused).toBe(false);

    const none = await rotor('schedules', 'pause', 'cli-b');
    expectExit(none, 1);
    expect(none.stderr).toContain('cli-b has no schedule');
  });

  it('audit verify exits 0 on an untouched audit log', async () => {
    const run = await rotor('audit', 'verify');
    expectExit(run, 0);
    expect(run.stdout).toMatch(/^audit log intact: \d+ rows( \(\d+ legacy rows without a MAC\))?, last hash [0-9a-f]{16}…, /m);
  });

  it('a malformed setting exits 1 and names the variable; the worker-only ROTOR_CODEC_KEY is not read by the CLI', async () => {
    const run = await runCli(['seed', 'cli-a'], { env: await cliEnv(stack, 'alice', { ROTOR_VAULT_ADDR: 'vault:8200' }) });
    expectExit(run, 1);
    expect(run.stderr).toContain('ROTOR_VAULT_ADDR');
    expect(run.stderr).toContain('rotor configuration is invalid');
    // The CLI reads the codec key from Vault with the operator's token: a malformed one exported by mistake changes nothing.
    const ignored = await runCli(['seed', 'cli-a'], { env: await cliEnv(stack, 'alice', { ROTOR_CODEC_KEY: 'short' }) });
    expectExit(ignored, 0);
    expect(ignored.stdout).toContain('cli-a: already at version');
  });

  it('without a Vault login the CLI exits 1 and says how to log in; a token Vault refuses is named, not echoed', async () => {
    const loggedOut = await cliEnv(stack);
    delete loggedOut.ROTOR_VAULT_TOKEN;
    const run = await runCli(['seed', 'cli-a'], { env: loggedOut });
    expectExit(run, 1);
    expect(run.stderr).toContain('not logged in to Vault');
    expect(run.stderr).toContain('rotor login <user>');

    const bogus = 'hvs.CAESIbogus-operator-token-0123456789';
    const refused = await runCli(['seed', 'cli-a'], { env: await cliEnv(stack, 'alice', { ROTOR_VAULT_TOKEN: bogus }) });
    expectExit(refused, 1);
    expect(refused.stderr).toMatch(/Vault refused .* with your token/);
    expect(refused.stderr).not.toContain(bogus);
  });

  it('an unreachable Temporal exits 1 and names the address', async () => {
    const run = await runCli(['status'], { env: await cliEnv(stack, 'alice', { ROTOR_TEMPORAL_ADDRESS: '127.0.0.1:1' }) });
    expectExit(run, 1);
    expect(run.stderr).toContain('cannot reach Temporal at 127.0.0.1:1');
  });
});

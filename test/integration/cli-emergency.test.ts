import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SecretStatus } from '../../cli/commands/status.js';
import { postgresSecretYaml, seed } from '../helpers/rotation-fixtures.js';
import { cliEnv, describeRun, killRunningClis, runCli } from '../helpers/run-cli.js';
import { canLogin, startTestStack, type TestStack } from '../helpers/test-stack.js';

/** The break-glass and incident commands, run as a person would: spawned processes, exit codes, output. */
describe('rotor break-glass and rotor incident', () => {
  let stack: TestStack;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    stack = await startTestStack(
      'cli-emergency',
      `secrets:
${postgresSecretYaml('clie-db').replace('    tags: [test]', '    tags: [test, clie]')}
breakGlass:
  - id: clie-bg
    secretId: clie-db
    requesters: [alice]
    approvers: [carol, dave]
    approvals: 2
    rotateAfter: false
`,
    );
    expect(await seed(stack, 'clie-db')).toBe(1);
    env = cliEnv(stack);
  });
  afterAll(async () => {
    killRunningClis();
    await stack?.close();
  });
  const rotor = (...args: string[]) => runCli(args, { env });

  it('request, two approvals, a single-use unwrap that logs in, then revoke', async () => {
    const missing = await rotor('break-glass', 'request', 'clie-bg', '--as', 'alice', '--ttl', '10m');
    expect(missing.code, describeRun(missing)).toBe(2);
    expect(missing.stderr).toMatch(/missing --justification/);

    const req = await rotor(
      'break-glass',
      'request',
      'clie-bg',
      '--as',
      'alice',
      '--ttl',
      '10m',
      '--justification',
      'inspect stuck migration',
      '--json',
    );
    expect(req.code, describeRun(req)).toBe(0);
    const id = (JSON.parse(req.stdout) as { request: string }).request;
    await new Promise((r) => setTimeout(r, 1000)); // the request opens for decisions once its policy is loaded

    const self = await rotor('break-glass', 'approve', id, '--as', 'alice');
    expect(self.code, describeRun(self)).toBe(1);
    expect(self.stderr).toMatch(/alice requested this access and cannot decide on it/);
    for (const who of ['carol', 'dave']) expect((await rotor('break-glass', 'approve', id, '--as', who)).code).toBe(0);

    let unwrap = await rotor('break-glass', 'unwrap', id, '--json');
    for (let i = 0; i < 20 && unwrap.code !== 0 && /no grant/.test(unwrap.stderr); i++) {
      await new Promise((r) => setTimeout(r, 250));
      unwrap = await rotor('break-glass', 'unwrap', id, '--json');
    }
    expect(unwrap.code, describeRun(unwrap)).toBe(0);
    const cred = JSON.parse(unwrap.stdout) as { username: string; password: string };
    expect(await canLogin(stack.file, cred.username, cred.password)).toBe(true);
    const again = await rotor('break-glass', 'unwrap', id);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already unwrapped or has expired/);

    const list = await rotor('break-glass', 'list', '--json');
    expect(list.code).toBe(0);
    expect(list.stdout).not.toContain(cred.password);
    expect(list.stdout).toContain(id);

    expect((await rotor('break-glass', 'revoke', id, '--as', 'alice')).code).toBe(0);
    await stack.client.workflow.getHandle(id).result();
    expect(await canLogin(stack.file, cred.username, cred.password)).toBe(false);
  });

  it('incident revoke-all: a dry run changes nothing, the real run rotates, the freeze shows in status until a second person lifts it', async () => {
    const bad = await rotor('incident', 'revoke-all', '--incident', 'inc-clie', '--reason', 'laptop stolen', '--scope', 'nonsense:x');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown kind "nonsense"/);

    const dry = await rotor(
      'incident',
      'revoke-all',
      '--incident',
      'inc-clie',
      '--reason',
      'laptop stolen',
      '--scope',
      'tag:clie',
      '--dry-run',
    );
    expect(dry.code, describeRun(dry)).toBe(0);
    expect(dry.stdout).toMatch(/DRY RUN: nothing changed/);
    expect(dry.stdout).toMatch(/secret clie-db\s+planned/);

    const real = await rotor(
      'incident',
      'revoke-all',
      '--incident',
      'inc-clie',
      '--reason',
      'laptop stolen',
      '--scope',
      'tag:clie',
      '--freeze',
      'in-scope',
      '--wait',
      '--by',
      'alice',
    );
    expect(real.code, describeRun(real)).toBe(0);
    expect(real.stdout).toMatch(/secret clie-db\s+done\s+v1→v2/);

    const status = await rotor('status');
    expect(status.stdout).toMatch(/INCIDENT FREEZE inc-clie .* by alice: laptop stolen \(secrets: clie-db\)/);
    const frozen = async () =>
      (JSON.parse((await rotor('status', '--json')).stdout) as SecretStatus[]).find((s) => s.id === 'clie-db')?.frozenBy;
    expect(await frozen()).toMatchObject({ incidentId: 'inc-clie', reason: 'laptop stolen', startedBy: 'alice' });
    const report = await rotor('incident', 'report', 'inc-clie', '--json');
    expect(JSON.parse(report.stdout)).toMatchObject({ incidentId: 'inc-clie', summary: { done: 1, failed: 0 } });

    const selfLift = await rotor('incident', 'unfreeze', 'inc-clie', '--by', 'alice');
    expect(selfLift.code).toBe(1);
    expect(selfLift.stderr).toMatch(/alice started incident inc-clie and may not lift its freeze/);
    expect((await rotor('incident', 'unfreeze', 'inc-clie', '--by', 'bob')).code).toBe(0);
    expect((await rotor('status')).stdout).not.toMatch(/INCIDENT FREEZE inc-clie/);
    expect(await frozen()).toBeNull();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SecretStatus } from '../../cli/commands/status.js';
import { postgresSecretYaml, seed } from '../helpers/rotation-fixtures.js';
import type { OperatorName } from '../helpers/operators.js';
import { cliEnv, describeRun, killRunningClis, runCli } from '../helpers/run-cli.js';
import { canLogin, startTestStack, type TestStack } from '../helpers/test-stack.js';

/**
 * The break-glass and incident commands, run as a person would: spawned processes, exit codes,
 * output. Each person is logged in as themselves (their own Vault token); the CLI proves who they
 * are to the worker, and their identity groups decide what they may do.
 */
describe('rotor break-glass and rotor incident', () => {
  let stack: TestStack;
  const envs = new Map<OperatorName, NodeJS.ProcessEnv>();
  beforeAll(async () => {
    stack = await startTestStack(
      'cli-emergency',
      `secrets:
${postgresSecretYaml('clie-db').replace('    tags: [test]', '    tags: [test, clie]')}
breakGlass:
  - id: clie-bg
    secretId: clie-db
    requesterGroups: [rotor-breakglass-requesters]
    approverGroups: [rotor-breakglass-approvers]
    approvals: 2
    rotateAfter: false
`,
    );
    expect(await seed(stack, 'clie-db')).toBe(1);
    for (const user of ['alice', 'bob', 'carol', 'dave'] as const) envs.set(user, await cliEnv(stack, user));
  });
  afterAll(async () => {
    killRunningClis();
    await stack?.close();
  });
  /** `rotor <args>` run by `user`, logged in as themselves. */
  const as =
    (user: OperatorName) =>
    (...args: string[]) =>
      runCli(args, { env: envs.get(user)! });
  const rotor = as('alice');

  it('request, two approvals, a credential only the requester can read that logs in, then revoke', async () => {
    const missing = await rotor('break-glass', 'request', 'clie-bg', '--ttl', '10m');
    expect(missing.code, describeRun(missing)).toBe(2);
    expect(missing.stderr).toMatch(/missing --justification/);
    // Nobody declares who they are: --as is gone, the login decides.
    const declared = await rotor('break-glass', 'approve', 'break-glass/clie-bg/x', '--as', 'carol');
    expect(declared.code, describeRun(declared)).toBe(2);
    expect(declared.stderr).toContain("'--as'");

    const req = await rotor('break-glass', 'request', 'clie-bg', '--ttl', '10m', '--justification', 'inspect stuck migration', '--json');
    expect(req.code, describeRun(req)).toBe(0);
    const id = (JSON.parse(req.stdout) as { request: string }).request;
    await new Promise((r) => setTimeout(r, 1000)); // the request opens for decisions once its policy is loaded

    const self = await rotor('break-glass', 'approve', id);
    expect(self.code, describeRun(self)).toBe(1);
    expect(self.stderr).toMatch(/alice requested this access and cannot decide on it/);
    const outsider = await as('bob')('break-glass', 'approve', id);
    expect(outsider.code, describeRun(outsider)).toBe(1);
    expect(outsider.stderr).toMatch(/bob may not decide on requests under clie-bg: not in the identity group rotor-breakglass-approvers/);
    for (const who of ['carol', 'dave'] as const) {
      const approved = await as(who)('break-glass', 'approve', id);
      expect(approved.code, describeRun(approved)).toBe(0);
      expect(approved.stdout).toContain(`approved by ${who}`);
    }

    let read = await rotor('break-glass', 'credentials', id, '--json');
    for (let i = 0; i < 20 && read.code !== 0 && /no grant/.test(read.stderr); i++) {
      await new Promise((r) => setTimeout(r, 250));
      read = await rotor('break-glass', 'credentials', id, '--json');
    }
    expect(read.code, describeRun(read)).toBe(0);
    const cred = JSON.parse(read.stdout) as { username: string; password: string };
    expect(await canLogin(stack.file, cred.username, cred.password)).toBe(true);
    // Only the requester's Vault identity can read it: an approver, or anyone who read the history, cannot.
    for (const other of ['carol', 'bob'] as const) {
      const stolen = await as(other)('break-glass', 'credentials', id, '--json');
      expect(stolen.code, describeRun(stolen)).toBe(1);
      expect(stolen.stderr).toMatch(/Vault refused the grant of .* to you: only its requester \(alice\) can read it/);
      expect(stolen.stdout + stolen.stderr).not.toContain(cred.password);
    }
    expect((await as('bob')('break-glass', 'unwrap', id)).code).toBe(2); // the old command is gone

    const list = await rotor('break-glass', 'list', '--json');
    expect(list.code).toBe(0);
    expect(list.stdout).not.toContain(cred.password);
    expect(list.stdout).toContain(id);

    const revoked = await rotor('break-glass', 'revoke', id);
    expect(revoked.code, describeRun(revoked)).toBe(0);
    expect(revoked.stdout).toContain('revocation requested by alice');
    await stack.client.workflow.getHandle(id).result();
    expect(await canLogin(stack.file, cred.username, cred.password)).toBe(false);
    const gone = await rotor('break-glass', 'credentials', id, '--json');
    expect(gone.code, describeRun(gone)).toBe(1);
  });

  it('incident revoke-all: a dry run changes nothing, the real run rotates, the freeze shows in status until a second person lifts it', async () => {
    const bad = await rotor('incident', 'revoke-all', '--incident', 'inc-clie', '--reason', 'laptop stolen', '--scope', 'nonsense:x');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown kind "nonsense"/);

    // Incident response is for verified incident responders (alice and carol here), not for whoever asks.
    const notResponder = await as('bob')(
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
    expect(notResponder.code, describeRun(notResponder)).toBe(1);
    expect(notResponder.stderr).toMatch(
      /bob may not start incident response \(revokeAll inc-clie\): not in the identity group rotor-incident-responders/,
    );

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

    const selfLift = await rotor('incident', 'unfreeze', 'inc-clie');
    expect(selfLift.code).toBe(1);
    expect(selfLift.stderr).toMatch(/alice started incident inc-clie and may not lift its freeze/);
    const notResponderLift = await as('bob')('incident', 'unfreeze', 'inc-clie');
    expect(notResponderLift.code).toBe(1);
    expect(notResponderLift.stderr).toMatch(
      /bob may not lift the freeze of incident inc-clie: not in the identity group rotor-incident-responders/,
    );
    expect((await rotor('status')).stdout).toMatch(/INCIDENT FREEZE inc-clie/); // neither refusal lifted it
    const lifted = await as('carol')('incident', 'unfreeze', 'inc-clie');
    expect(lifted.code, describeRun(lifted)).toBe(0);
    expect(lifted.stdout).toContain('freeze of incident inc-clie lifted by carol');
    expect((await rotor('status')).stdout).not.toMatch(/INCIDENT FREEZE inc-clie/);
    expect(await frozen()).toBeNull();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlanResult } from '../../workflows/plan-types.js';
import { kvVersion, postgresSecretYaml, seed } from '../helpers/rotation-fixtures.js';
import { canLogin, startTestStack, type TestStack } from '../helpers/test-stack.js';
import { rotatePlan } from '../../workflows/rotate-plan.js';

const silent = `      - name: ops\n        confirm: { mode: manual, timeout: 3s }`;
const inventory = `secrets:
${postgresSecretYaml('trio-a')}${postgresSecretYaml('trio-b')}${postgresSecretYaml('trio-c', silent)}${postgresSecretYaml('duo-a')}${postgresSecretYaml('duo-b')}
plans:
  - id: trio
    secrets: [trio-a, trio-b, trio-c]
  - id: duo
    secrets: [duo-a, duo-b]
`;

describe('rotatePlan: several secrets in lockstep', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack('plan', inventory);
    for (const id of ['trio-a', 'trio-b', 'trio-c', 'duo-a', 'duo-b']) expect(await seed(stack, id)).toBe(1);
  });
  afterAll(async () => {
    await stack?.close();
  });

  const runPlan = (planId: string) =>
    stack.client.workflow.execute(rotatePlan, {
      taskQueue: stack.taskQueue,
      workflowId: `plan/${planId}`,
      args: [{ planId, requestedBy: 'test' }],
    }) as Promise<PlanResult>;

  it('all secrets move together when every one succeeds', async () => {
    const before = await Promise.all(['duo-a', 'duo-b'].map((id) => kvVersion(stack, id)));
    const result = await runPlan('duo');
    expect(result.outcome, JSON.stringify(result)).toBe('rotated');
    expect(result.secrets.map((s) => [s.secretId, s.outcome])).toEqual([
      ['duo-a', 'rotated'],
      ['duo-b', 'rotated'],
    ]);
    for (const [i, id] of ['duo-a', 'duo-b'].entries()) {
      const now = await kvVersion(stack, id);
      expect(now.version).toBe(2);
      expect(await canLogin(stack.file, now.data.username, now.data.password)).toBe(true);
      expect(await canLogin(stack.file, before[i]!.data.username, before[i]!.data.password)).toBe(false);
    }
  });

  it("the third secret's consumer never confirms: all three end at their previous versions, every old credential still works", async () => {
    const ids = ['trio-a', 'trio-b', 'trio-c'];
    const before = await Promise.all(ids.map((id) => kvVersion(stack, id)));
    const result = await runPlan('trio');
    expect(result).toMatchObject({ outcome: 'rolled_back', stoppedAt: 'confirmed' });
    expect(result.reason).toMatch(/trio-c/);
    expect(result.secrets.map((s) => s.outcome)).toEqual(['rolled_back', 'rolled_back', 'rolled_back']);
    for (const [i, id] of ids.entries()) {
      const current = await kvVersion(stack, id);
      const attempted = await kvVersion(stack, id, 2);
      expect(current.version).toBe(3);
      expect(current.data).toEqual(before[i]!.data);
      expect(await canLogin(stack.file, before[i]!.data.username, before[i]!.data.password)).toBe(true);
      expect(await canLogin(stack.file, attempted.data.username, attempted.data.password)).toBe(false);
    }
  });

  it('an unknown plan is refused by name', async () => {
    await expect(runPlan('nope')).rejects.toThrow();
    const err = (await runPlan('nope-2').catch((e: unknown) => e)) as Error & { cause?: Error & { cause?: Error } };
    expect(String(err.cause?.cause?.message ?? err.cause?.message)).toMatch(
      /planId "nope-2" is not in the inventory; known plans: trio, duo/,
    );
  });
});

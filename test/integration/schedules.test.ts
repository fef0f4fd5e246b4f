import { ScheduleNotFoundError, WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../config/load-inventory.js';
import { diffSchedules, reconcileSchedules } from '../../schedules/reconcile-schedules.js';
import { kvVersion, postgresSecretYaml, seed } from '../helpers/rotation-fixtures.js';
import { canLogin, startTestStack, type TestStack } from '../helpers/test-stack.js';

const withCadence = (id: string, cadence: string) =>
  postgresSecretYaml(id).replace('    consumers: []', `    cadence: ${cadence}\n    consumers: []`);

const first = `secrets:\n${withCadence('sched-a', '{ cron: "0 3 * * 0" }')}${withCadence('sched-b', '{ every: 1h, paused: true }')}${postgresSecretYaml('sched-c')}`;
const second = `secrets:\n${withCadence('sched-a', '{ every: 2h, jitter: 5m }')}${postgresSecretYaml('sched-c')}`;

describe('schedules follow the inventory', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack('schedules', first);
  });
  afterAll(async () => {
    for (const id of ['rotate/sched-a', 'rotate/sched-b'])
      await stack.client.schedule
        .getHandle(id)
        .delete()
        .catch(() => undefined);
    await stack?.close();
  });

  const describeSchedule = (id: string) => stack.client.schedule.getHandle(id).describe();

  it('diff shows creations without changing anything; sync creates them on the server', async () => {
    const inventory = parseInventory(first);
    const diff = await diffSchedules(stack.client, inventory, stack.taskQueue);
    expect(diff.map((c) => [c.action, c.scheduleId])).toEqual([
      ['create', 'rotate/sched-a'],
      ['create', 'rotate/sched-b'],
    ]);
    await expect(describeSchedule('rotate/sched-a')).rejects.toBeInstanceOf(ScheduleNotFoundError);

    await reconcileSchedules(stack.client, inventory, stack.taskQueue);
    const a = await describeSchedule('rotate/sched-a');
    expect(a.spec.calendars?.length ?? 0).toBeGreaterThan(0);
    expect(a.policies.overlap).toBe('SKIP');
    expect(a.action).toMatchObject({ type: 'startWorkflow', workflowType: 'rotateSecret', taskQueue: stack.taskQueue });
    expect((await describeSchedule('rotate/sched-b')).state.paused).toBe(true);
    expect((await diffSchedules(stack.client, inventory, stack.taskQueue)).every((c) => c.action === 'unchanged')).toBe(true);
  });

  it('updates a changed cadence and deletes the schedule of a secret that left the inventory', async () => {
    const inventory = parseInventory(second);
    const diff = await diffSchedules(stack.client, inventory, stack.taskQueue);
    expect(diff.filter((c) => c.action !== 'unchanged').map((c) => [c.action, c.scheduleId])).toEqual([
      ['update', 'rotate/sched-a'],
      ['delete', 'rotate/sched-b'],
    ]);
    await reconcileSchedules(stack.client, inventory, stack.taskQueue);
    const a = await describeSchedule('rotate/sched-a');
    expect(a.spec.intervals?.[0]?.every).toBe(2 * 3600 * 1000);
    expect(a.spec.jitter).toBe(5 * 60 * 1000);
    await expect(describeSchedule('rotate/sched-b')).rejects.toBeInstanceOf(ScheduleNotFoundError);
  });

  it('a schedule triggered now runs a rotation to completion under rotate/<secret>', async () => {
    await stack.writeInventory(second);
    expect(await seed(stack, 'sched-a')).toBe(1);
    await stack.client.schedule.getHandle('rotate/sched-a').trigger();
    const deadline = Date.now() + 30_000;
    let result: unknown;
    while (Date.now() < deadline) {
      try {
        result = await stack.client.workflow.getHandle('rotate/sched-a').result();
        break;
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    expect(result).toMatchObject({ outcome: 'rotated', fromVersion: 1, toVersion: 2 });
    const current = await kvVersion(stack, 'sched-a');
    expect(current.version).toBe(2);
    expect(await canLogin(stack.file, current.data.username, current.data.password)).toBe(true);
  });
});

import { rm } from 'node:fs/promises';
import type { WorkflowHandle } from '@temporalio/client';
import type pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addScrapeTarget } from '../../stack/prometheus-server.js';
import { freeLoopbackAddress } from '../../metrics/sdk-metrics.js';
import { createWorker, type RotorWorker } from '../../workers/create-worker.js';
import { createLogger } from '../../workers/logger.js';
import { VaultClient } from '../../vault/vault-client.js';
import { breakGlass } from '../../workflows/break-glass.js';
import { approveUpdate, breakGlassStatusQuery } from '../../workflows/contracts.js';
import { identityToken, operatorToken } from '../helpers/operators.js';
import { postgresSecretYaml, rotate, seed, startRotation } from '../helpers/rotation-fixtures.js';
import { connectTestStack, type StackConnection } from '../helpers/test-stack.js';

/**
 * The worker's metrics, as the stack's real Prometheus scrapes them (file_sd target, 1 s interval)
 * and answers through its HTTP API: a rotation and a rollback are counted, a pending cutover and
 * its limit are visible while it waits, rotor's rollback alert fires, the Temporal SDK's own series
 * arrive through the same port, and no label value is a secret value.
 *
 * m-ok rotates (no consumers). m-rb waits for a person who never confirms (20 s), so it rolls back.
 * A break-glass grant on m-ok (one approval) is active until its TTL, then revoked.
 */
const inventory = `secrets:
${postgresSecretYaml('m-ok').replace('    overlap: 1s\n', '    overlap: 1s\n    cadence: { every: 1h }\n')}${postgresSecretYaml(
  'm-rb',
  '      - name: ops\n        confirm: { mode: manual, timeout: 20s }',
)}breakGlass:
  - id: m-bg
    secretId: m-ok
    requesterGroups: [rotor-breakglass-requesters]
    approverGroups: [rotor-breakglass-approvers]
    approvals: 1
    maxTtl: 1m
    approvalTimeout: 30s
    rotateAfter: false
`;

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

describe('metrics, scraped by Prometheus', () => {
  let stack: StackConnection;
  let worker: RotorWorker;
  let workerRun: Promise<void>;
  let target: string;
  let prometheus: string;
  let metricsAddress: string;
  const logLines: string[] = [];
  /** Secret values this file saw (break-glass credentials), for the leak scan. */
  const handedOut: string[] = [];

  /** An instant query through Prometheus's HTTP API. */
  const query = async (promql: string): Promise<Sample[]> => {
    const response = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await response.json()) as { status: string; data: { result: Sample[] }; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus refused ${promql}: ${body.error}`);
    return body.data.result;
  };
  /** Polls `promql` (scoped to this file's worker) until `ok` holds for its result. */
  const eventually = async (promql: string, ok: (r: Sample[]) => boolean, timeoutMs = 30_000): Promise<Sample[]> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const result = await query(promql);
      if (ok(result)) return result;
      if (Date.now() > deadline) throw new Error(`${promql} never matched; last: ${JSON.stringify(result)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  const value = (r: Sample[]) => (r.length === 1 ? Number(r[0]!.value[1]) : NaN);
  const mine = () => `worker="${stack.taskQueue}"`;

  beforeAll(async () => {
    stack = await connectTestStack('metrics', inventory);
    prometheus = stack.file.prometheus!.url;
    metricsAddress = await freeLoopbackAddress();
    const logger = createLogger('info', { write: (line: string) => void logLines.push(line) } as pino.DestinationStream);
    worker = await createWorker({ ...stack.env, ROTOR_METRICS_LISTEN: metricsAddress }, logger, {
      workflowBundle: { codePath: stack.workflowBundle },
    });
    workerRun = worker.worker.run();
    target = await addScrapeTarget(stack.file.stateDir, stack.taskQueue, metricsAddress);
    for (const id of ['m-ok', 'm-rb']) expect(await seed(stack, id)).toBe(1);
  });
  afterAll(async () => {
    await rm(target, { force: true });
    await stack?.connection.close();
    worker?.worker.shutdown();
    await workerRun;
    await worker?.close();
  });

  it('counts a rotation and a rollback, shows the pending cutover with its limit, and fires the rollback alert', async () => {
    const before = Date.now() / 1000;
    expect(await rotate(stack, 'm-ok')).toMatchObject({ outcome: 'rotated' });
    const waiting = await startRotation(stack, 'm-rb');

    // While m-rb waits for its person: how long, and how long it may (20 s + the 5 min margin).
    const pending = await eventually(`rotor_cutover_pending_seconds{secret="m-rb",${mine()}}`, (r) => value(r) >= 0);
    expect(value(pending)).toBeLessThan(60);
    const limit = await query(`rotor_rotation_phase_limit_seconds{secret="m-rb",phase="awaiting_confirmation",${mine()}}`);
    expect(value(limit)).toBe(320);
    expect(
      value(await query(`rotor_rotation_phase_age_seconds{secret="m-rb",phase="awaiting_confirmation",${mine()}}`)),
    ).toBeGreaterThanOrEqual(0);

    expect(await waiting.result()).toMatchObject({ outcome: 'rolled_back' });
    const rotated = await eventually(`rotor_rotations_total{provider="postgres",outcome="rotated",${mine()}}`, (r) => value(r) === 1);
    expect(value(rotated)).toBe(1);
    await eventually(`rotor_rotations_total{provider="postgres",outcome="rolled_back",${mine()}}`, (r) => value(r) === 1);
    await eventually(`rotor_rollbacks_total{provider="postgres",${mine()}}`, (r) => value(r) === 1);
    expect(value(await query(`rotor_rotations_total{provider="postgres",outcome="aborted",${mine()}}`))).toBe(0);
    // The pending cutover is gone with the rotation.
    await eventually(`rotor_cutover_pending_seconds{secret="m-rb",${mine()}}`, (r) => r.length === 0);

    // Phases timed from the audit rows: both runs were promoted.
    const promoted = await query(`rotor_rotation_phase_duration_seconds_count{phase="promoting",${mine()}}`);
    expect(value(promoted)).toBe(2);
    // m-ok: the last success, its cadence, the age of its current credential (just rotated).
    const last = value(await query(`rotor_last_success_timestamp_seconds{secret="m-ok",${mine()}}`));
    expect(last).toBeGreaterThan(before);
    expect(last).toBeLessThanOrEqual(Date.now() / 1000);
    expect(value(await query(`rotor_secret_cadence_seconds{secret="m-ok",${mine()}}`))).toBe(3600);
    // The age of version 2 (what the rotation promoted), as of the snapshot (cached up to 5 s, scraped every 2 s).
    const meta = (await stack.rootVault.kvMetadata('rotor', 'apps/m-ok'))!;
    expect(meta.current_version).toBe(2);
    const sinceV2 = Date.now() / 1000 - Date.parse(meta.versions['2']!.created_time) / 1000;
    const age = value(await query(`rotor_secret_age_seconds{secret="m-ok",${mine()}}`));
    expect(age).toBeLessThanOrEqual(sinceV2 + 0.5);
    expect(age).toBeGreaterThan(sinceV2 - 10);
    expect(value(await query(`rotor_incidents_active{${mine()}}`))).toBeGreaterThanOrEqual(0);
    expect(await query(`rotor_metrics_collect_errors_total{${mine()}} > 0`)).toEqual([]);

    // rotor's own rule, evaluated by this Prometheus (deploy/prometheus/rotor-alerts.yml).
    await eventually('ALERTS{alertname="RotorRollback",alertstate="firing",provider="postgres"}', (r) => r.length === 1);
  }, 120_000);

  it('shows an active break-glass grant with its expiry until it is revoked at its TTL', async () => {
    const handle: WorkflowHandle = await stack.client.workflow.start(breakGlass, {
      taskQueue: stack.taskQueue,
      workflowId: `break-glass/m-bg/${stack.taskQueue}`,
      args: [{ policyId: 'm-bg', identity: await identityToken(stack.file, 'alice'), justification: 'metrics test', ttl: '8s' }],
    });
    for (let i = 0; i < 100 && !(await handle.query(breakGlassStatusQuery).catch(() => undefined))?.open; i++)
      await new Promise((r) => setTimeout(r, 50));
    await handle.executeUpdate(approveUpdate, { args: [{ identity: await identityToken(stack.file, 'carol') }] });
    let status = await handle.query(breakGlassStatusQuery);
    for (let i = 0; i < 100 && status.phase !== 'granted'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await handle.query(breakGlassStatusQuery);
    }
    const alice = new VaultClient(stack.env.ROTOR_VAULT_ADDR, await operatorToken(stack.file, 'alice'));
    const delivered = await alice.kvRead<{ password: string }>(stack.env.ROTOR_VAULT_KV_MOUNT, status.grant!.deliveredTo!);
    handedOut.push(delivered!.data.password);

    const expiry = await eventually(`rotor_break_glass_grant_expiry_timestamp_seconds{secret="m-ok",${mine()}}`, (r) => r.length === 1);
    expect(expiry[0]!.metric.request).toBe(status.requestId);
    expect(value(expiry)).toBeCloseTo(Date.parse(status.grant!.expiresAt) / 1000, 0);
    expect(value(await query(`rotor_break_glass_grants_active{${mine()}}`))).toBeGreaterThanOrEqual(1);

    expect(await handle.result()).toMatchObject({ outcome: 'revoked', revokedBy: 'ttl' });
    await eventually(`rotor_break_glass_grant_expiry_timestamp_seconds{secret="m-ok",${mine()}}`, (r) => r.length === 0);
  }, 60_000);

  it("serves the Temporal SDK's worker metrics on the same port", async () => {
    const slots = await eventually(`temporal_worker_task_slots_available{task_queue="${stack.taskQueue}",${mine()}}`, (r) => r.length > 0);
    expect(slots.map((s) => s.metric.worker_type).sort()).toEqual(expect.arrayContaining(['ActivityWorker', 'WorkflowWorker']));
    await eventually(
      `temporal_workflow_task_schedule_to_start_latency_bucket{task_queue="${stack.taskQueue}",${mine()}}`,
      (r) => r.length > 0,
    );
  });

  it('never carries a secret value in a label, the exposition or the worker log', async () => {
    const values: string[] = [];
    for (const id of ['m-ok', 'm-rb']) {
      const meta = await stack.rootVault.kvMetadata('rotor', `apps/${id}`);
      for (let v = 1; v <= meta!.current_version; v++) {
        const read = await stack.rootVault.kvRead<{ password: string }>('rotor', `apps/${id}`, v);
        if (read) values.push(read.data.password);
      }
    }
    expect(values.length).toBeGreaterThanOrEqual(5); // m-ok v1, v2; m-rb v1, v2, v3 (the restored copy)
    values.push(...handedOut);
    const response = await fetch(`${prometheus}/api/v1/series?match[]=${encodeURIComponent(`{${mine()}}`)}`);
    const series = ((await response.json()) as { data: Record<string, string>[] }).data;
    expect(series.length).toBeGreaterThan(20);
    const labelValues = new Set(series.flatMap((s) => Object.values(s)));
    for (const secret of values) {
      expect(secret.length).toBeGreaterThan(8);
      expect(labelValues.has(secret)).toBe(false);
      for (const label of labelValues) expect(label.includes(secret)).toBe(false);
    }
    const exposition = await (await fetch(`http://${metricsAddress}/metrics`)).text();
    const log = logLines.join('\n');
    for (const secret of values) {
      expect(exposition.includes(secret)).toBe(false);
      expect(log.includes(secret)).toBe(false);
    }
  });
});

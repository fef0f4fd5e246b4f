import { WorkflowIdConflictPolicy } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import { approveUpdate, breakGlassStatusQuery, incidentWorkflowId, rotationWorkflowId, statusQuery } from '../../workflows/contracts.js';
import { breakGlass } from '../../workflows/break-glass.js';
import type { BreakGlassResult } from '../../workflows/break-glass-types.js';
import type { IncidentReport } from '../../workflows/incident-types.js';
import { revokeAll } from '../../workflows/revoke-all.js';
import { rotatePlan } from '../../workflows/rotate-plan.js';
import { rotateSecret } from '../../workflows/rotate-secret.js';
import type { RotationResult } from '../../workflows/rotation-types.js';
import type { FaultStack } from '../helpers/fault-stack.js';
import { identityToken } from '../helpers/operators.js';
import { kvVersion } from '../helpers/rotation-fixtures.js';
import { canLogin, superuserClient } from '../helpers/test-stack.js';
import { auditViolations, rotationViolations, type RotationCheck } from './invariants.js';
import type { ServerFaults } from './server-faults.js';

export interface ChaosContext {
  stack: FaultStack;
  servers: ServerFaults;
  /** How long a server stays down: 30 s in `npm run chaos`, shorter in the CI subset. */
  outageMs: number;
  /** Adds a seeded postgres secret (and any extra inventory) to the inventory; returns its id. */
  newSecret(prefix: string, options?: { consumers?: string; overlap?: string; tags?: string[] }): Promise<string>;
  addInventory(section: 'plans' | 'breakGlass', yaml: string): Promise<void>;
}

export interface RunRecord {
  faults: number;
  outcome: string;
  violations: string[];
  /** Per fault: from the fault's end (worker restarted, server back) to the workflow closing. */
  recoverMs: number[];
}

export interface Scenario {
  name: string;
  /** Part of the bounded subset `npm test` runs. */
  ci: boolean;
  run(ctx: ChaosContext): Promise<RunRecord>;
}

/** The longest a workflow may take to end after its last fault before it counts as stuck. */
const STUCK_AFTER_MS = 180_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MANUAL_CONSUMER = '      - { name: ops, confirm: { mode: manual, timeout: 3s } }';

/**
 * The faults of one run and how long each took to recover from: from the fault's end (a new worker
 * polls, a server is back) to the workflow's next progress (its next failpoint, or its end).
 */
class FaultClock {
  private since: number | undefined;
  readonly recoverMs: number[] = [];
  count = 0;

  ended(): void {
    this.count++;
    this.since = Date.now();
  }

  progressed(at = Date.now()): void {
    if (this.since !== undefined) this.recoverMs.push(at - this.since);
    this.since = undefined;
  }
}

/** A crash exactly at `point`: hold the worker there, SIGKILL it, start another (holding it at `next`). */
async function crashAt(stack: FaultStack, faults: FaultClock, point: string, next?: string): Promise<void> {
  await stack.failpoints.reached(point, 120_000);
  faults.progressed();
  await stack.worker.crash();
  if (next) await stack.failpoints.hold(next);
  await stack.failpoints.release(point);
  await stack.startWorker();
  faults.ended();
}

/** SIGKILL at each of `points`, in the order the workflow reaches them. */
async function crashAtEach(stack: FaultStack, faults: FaultClock, points: string[]): Promise<void> {
  for (let i = 0; i < points.length; i++) await crashAt(stack, faults, points[i]!, points[i + 1]);
}

/** Waits for a workflow's result, or reports it stuck. */
async function ending<T>(handle: WorkflowHandle, timeoutMs = STUCK_AFTER_MS): Promise<{ result?: T; error?: string; at: number }> {
  const timer = sleep(timeoutMs).then(() => ({ error: `stuck: not closed ${timeoutMs / 1000}s after its last fault` }));
  const done = handle.result().then(
    (result: T) => ({ result }),
    (err: unknown) => ({
      error: `failed: ${(err as Error).message}${(err as Error).cause ? `: ${((err as Error).cause as Error).message}` : ''}`,
    }),
  );
  const r = await Promise.race([done, timer]);
  return { ...r, at: Date.now() };
}

async function startRotation(stack: FaultStack, secretId: string) {
  const before = await kvVersion(stack, secretId);
  const handle = await stack.client.workflow.start(rotateSecret, {
    taskQueue: stack.taskQueue,
    workflowId: rotationWorkflowId(secretId),
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
    args: [{ secretId, requestedBy: 'chaos', reason: 'chaos run' }],
  });
  return { before, handle };
}

/**
 * An emergency rotation of one secret, started the only way there is: incident response
 * (revokeAll, by a verified incident responder of the chaos stack), which emergency-rotates it as
 * its child `rotate/<id>`. Returns the child (as `startRotation` does) and the incident.
 */
async function startEmergencyRotation(stack: FaultStack, secretId: string) {
  const before = await kvVersion(stack, secretId);
  const incidentId = `inc-${secretId}`;
  const incident = await stack.client.workflow.start(revokeAll, {
    taskQueue: stack.taskQueue,
    workflowId: incidentWorkflowId(incidentId),
    args: [
      {
        incidentId,
        reason: 'chaos: credential leaked',
        identity: await identityToken(stack.file, 'alice'),
        scope: { secretIds: [secretId] },
        freeze: 'in-scope',
      },
    ],
  });
  const child = stack.client.workflow.getHandle(rotationWorkflowId(secretId));
  const deadline = Date.now() + 120_000;
  for (;;) {
    const d = await child.describe().catch(() => undefined);
    if (d?.parentExecution?.workflowId === incident.workflowId) {
      const handle = Object.assign(
        stack.client.workflow.getHandle<typeof rotateSecret>(rotationWorkflowId(secretId), d.runId, { firstExecutionRunId: d.runId }),
        { firstExecutionRunId: d.runId },
      );
      return { before, handle, incident };
    }
    if (Date.now() > deadline) throw new Error(`incident ${incidentId} did not start rotate/${secretId} within 120s`);
    await sleep(100);
  }
}

/** The incident that emergency-rotated one secret must end with it done and rotated. */
async function incidentViolations(incident: WorkflowHandle): Promise<string[]> {
  const end = await ending<IncidentReport>(incident);
  if (!end.result) return [`${incident.workflowId}: ${end.error}`];
  return end.result.secrets
    .filter((s) => s.status !== 'done' || s.outcome !== 'rotated')
    .map((s) => `${s.secretId}: incident report says ${s.status} ${s.outcome ?? ''}`);
}

/** A rotation run a scenario started (or saw its incident start), and the secret's version before it. */
interface StartedRotation {
  before: RotationCheck['before'];
  handle: WorkflowHandle<typeof rotateSecret> & { firstExecutionRunId: string };
}

/** Ends a rotation run: waits for its result and checks every invariant at the servers. */
async function finishRotation(
  ctx: ChaosContext,
  secretId: string,
  started: StartedRotation,
  faults: FaultClock,
  extra: string[] = [],
): Promise<RunRecord> {
  const end = await ending<RotationResult>(started.handle);
  faults.progressed(end.at);
  const { recoverMs, count } = faults;
  if (!end.result) return { faults: count, outcome: 'failed', violations: [`${secretId}: ${end.error}`, ...extra], recoverMs };
  const check: RotationCheck = {
    secretId,
    runId: started.handle.firstExecutionRunId,
    workflowId: started.handle.workflowId,
    before: started.before,
    result: end.result,
  };
  return {
    faults: count,
    outcome: end.result.outcome,
    violations: [...extra, ...(await rotationViolations(ctx.stack, check))],
    recoverMs,
  };
}

/** One server fault that has just ended. */
function serverFault(): FaultClock {
  const faults = new FaultClock();
  faults.ended();
  return faults;
}

/** The invariants of a rotation a parent (rotatePlan, revokeAll) started as `rotate/<id>`. */
async function childViolations(ctx: ChaosContext, secretId: string, before: RotationCheck['before']): Promise<string[]> {
  const child = ctx.stack.client.workflow.getHandle(rotationWorkflowId(secretId));
  const { runId, workflowId } = await child.describe();
  const closed = await ending<RotationResult>(child);
  if (!closed.result) return [`${secretId}: ${closed.error}`];
  return rotationViolations(ctx.stack, { secretId, runId, workflowId, before, result: closed.result });
}

/** Every step of an ordinary rotation, in order: SIGKILL at each, including while it sleeps in its overlap. */
const ROTATE_POINTS = ['stage.done', 'apply.start', 'apply.done', 'test.done', 'promote.written', 'promote.done', 'post_validate.start'];
const RETIRE_POINTS = ['revoke.start', 'revoke.done', 'cleanup_staged.start'];

const workerKillRotate: Scenario = {
  name: 'worker SIGKILL at each step of rotateSecret',
  ci: false,
  async run(ctx) {
    const secretId = await ctx.newSecret('kill', { overlap: '4s' });
    await ctx.stack.failpoints.hold(ROTATE_POINTS[0]!);
    const started = await startRotation(ctx.stack, secretId);
    const faults = new FaultClock();
    await crashAtEach(ctx.stack, faults, ROTATE_POINTS);
    // Asleep in the overlap: found from the status query.
    await waitForPhase(started.handle, 'overlap');
    faults.progressed();
    await ctx.stack.failpoints.hold(RETIRE_POINTS[0]!);
    await ctx.stack.worker.crash();
    await ctx.stack.startWorker();
    faults.ended();
    await crashAtEach(ctx.stack, faults, RETIRE_POINTS);
    return finishRotation(ctx, secretId, started, faults);
  },
};

const workerKillPromotion: Scenario = {
  name: 'worker SIGKILL between promotion write and stamp',
  ci: true,
  async run(ctx) {
    const secretId = await ctx.newSecret('killpromo', { overlap: '1s' });
    await ctx.stack.failpoints.hold('apply.done');
    const started = await startRotation(ctx.stack, secretId);
    const faults = new FaultClock();
    await crashAtEach(ctx.stack, faults, ['apply.done', 'promote.written']);
    return finishRotation(ctx, secretId, started, faults);
  },
};

/**
 * Issue #13: a worker killed in the middle of a target step is noticed within the heartbeat timeout
 * (10 s), not the step's start-to-close (1 minute): the step runs again on the new worker in seconds.
 */
const workerKillNoticed: Scenario = {
  name: 'worker SIGKILL mid target step is noticed in seconds',
  ci: true,
  async run(ctx) {
    const secretId = await ctx.newSecret('noticed', { overlap: '1s' });
    await ctx.stack.failpoints.hold('apply.start');
    const started = await startRotation(ctx.stack, secretId);
    await ctx.stack.failpoints.reached('apply.start', 60_000);
    await ctx.stack.worker.crash();
    await ctx.stack.failpoints.release('apply.start');
    await ctx.stack.startWorker();
    const faults = new FaultClock();
    faults.ended();
    const restarted = Date.now();
    await ctx.stack.failpoints.reached('apply.start', 120_000, 2);
    faults.progressed();
    const retriedAfterMs = Date.now() - restarted;
    const late =
      retriedAfterMs > 20_000 ? [`${secretId}: the killed apply step ran again only after ${(retriedAfterMs / 1000).toFixed(0)}s`] : [];
    return finishRotation(ctx, secretId, started, faults, late);
  },
};

/** A manual consumer that never confirms: the rotation rolls back. SIGKILL while waiting and during the rollback. */
const workerKillRollback: Scenario = {
  name: 'worker SIGKILL during rollback (write then stamp)',
  ci: true,
  async run(ctx) {
    const secretId = await ctx.newSecret('killrb', { consumers: MANUAL_CONSUMER });
    const started = await startRotation(ctx.stack, secretId);
    await waitForPhase(started.handle, 'awaiting_confirmation');
    await ctx.stack.failpoints.hold('rollback.written');
    await ctx.stack.worker.crash();
    await ctx.stack.startWorker();
    const faults = new FaultClock();
    faults.ended();
    await crashAtEach(ctx.stack, faults, ['rollback.written', 'discard_and_revoke_staged.done']);
    return finishRotation(ctx, secretId, started, faults);
  },
};

const EMERGENCY_POINTS = ['stage.done', 'apply.done', 'promote.written', 'promote.done', 'revoke.start', 'revoke.done'];

const workerKillEmergency: Scenario = {
  name: 'worker SIGKILL at each step of emergencyRotate',
  ci: false,
  async run(ctx) {
    const secretId = await ctx.newSecret('killem');
    await ctx.stack.failpoints.hold(EMERGENCY_POINTS[0]!);
    const started = await startEmergencyRotation(ctx.stack, secretId);
    const faults = new FaultClock();
    await crashAtEach(ctx.stack, faults, EMERGENCY_POINTS);
    const record = await finishRotation(ctx, secretId, started, faults);
    record.violations.push(...(await incidentViolations(started.incident)));
    return record;
  },
};

const workerKillPlan: Scenario = {
  name: 'worker SIGKILL in rotatePlan (promotion, revocation)',
  ci: false,
  async run(ctx) {
    const a = await ctx.newSecret('plana', { overlap: '1s' });
    const b = await ctx.newSecret('planb', { overlap: '1s' });
    const planId = `plan-${a}`;
    await ctx.addInventory('plans', `  - { id: ${planId}, secrets: [${a}, ${b}] }\n`);
    const before = { [a]: await kvVersion(ctx.stack, a), [b]: await kvVersion(ctx.stack, b) };
    await ctx.stack.failpoints.hold('promote.written');
    const handle = await ctx.stack.client.workflow.start(rotatePlan, {
      taskQueue: ctx.stack.taskQueue,
      workflowId: `plan/${planId}`,
      args: [{ planId, requestedBy: 'chaos' }],
    });
    const faults = new FaultClock();
    await crashAtEach(ctx.stack, faults, ['promote.written', 'revoke.done']);
    const end = await ending<unknown>(handle);
    faults.progressed(end.at);
    const violations = end.error ? [`plan ${planId}: ${end.error}`] : [];
    for (const id of [a, b]) violations.push(...(await childViolations(ctx, id, before[id]!)));
    return { faults: faults.count, outcome: end.error ? 'failed' : 'done', violations, recoverMs: faults.recoverMs };
  },
};

const workerKillRevokeAll: Scenario = {
  name: 'worker SIGKILL in revokeAll (freeze, child promotion, child revocation)',
  ci: false,
  async run(ctx) {
    const tag = `blast${Date.now().toString(36)}`;
    const ids = [await ctx.newSecret('inca', { tags: [tag] }), await ctx.newSecret('incb', { tags: [tag] })];
    const before = Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await kvVersion(ctx.stack, id)] as const)));
    const incidentId = `inc-${tag}`;
    await ctx.stack.failpoints.hold('incident_freeze.done');
    const handle = await ctx.stack.client.workflow.start(revokeAll, {
      taskQueue: ctx.stack.taskQueue,
      workflowId: `incident/${incidentId}`,
      args: [
        {
          incidentId,
          reason: 'chaos: credentials leaked',
          identity: await identityToken(ctx.stack.file, 'alice'),
          scope: { tags: [tag] },
          freeze: 'in-scope',
          concurrency: 2,
        },
      ],
    });
    const faults = new FaultClock();
    await crashAtEach(ctx.stack, faults, ['incident_freeze.done', 'promote.written', 'revoke.done']);
    const end = await ending<IncidentReport>(handle);
    faults.progressed(end.at);
    const violations = end.error ? [`incident ${incidentId}: ${end.error}`] : [];
    for (const s of end.result?.secrets ?? [])
      if (s.status !== 'done' || s.outcome !== 'rotated')
        violations.push(`${s.secretId}: incident report says ${s.status} ${s.outcome ?? ''}`);
    for (const id of ids) violations.push(...(await childViolations(ctx, id, before[id]!)));
    violations.push(...(await auditViolations(ctx.stack, handle.workflowId)));
    return { faults: faults.count, outcome: end.error ? 'failed' : 'done', violations, recoverMs: faults.recoverMs };
  },
};

const workerKillBreakGlass: Scenario = {
  name: 'worker SIGKILL in breakGlass (grant, revoke)',
  ci: false,
  async run(ctx) {
    const secretId = await ctx.newSecret('bg');
    const policyId = `bg-${secretId}`;
    await ctx.addInventory(
      'breakGlass',
      `  - { id: ${policyId}, secretId: ${secretId}, requesterGroups: [rotor-breakglass-requesters], approverGroups: [rotor-breakglass-approvers], approvals: 2, maxTtl: 1h, approvalTimeout: 1m, rotateAfter: false }\n`,
    );
    await ctx.stack.failpoints.hold('break_glass_grant.done');
    const handle = await ctx.stack.client.workflow.start(breakGlass, {
      taskQueue: ctx.stack.taskQueue,
      workflowId: `break-glass/${policyId}/${Date.now()}`,
      args: [
        {
          policyId,
          identity: await identityToken(ctx.stack.file, 'alice'),
          justification: 'chaos: inspect locks under faults',
          ttl: '10m',
        },
      ],
    });
    for (let i = 0; i < 200 && !(await handle.query(breakGlassStatusQuery).catch(() => undefined))?.open; i++) await sleep(50);
    await handle.executeUpdate(approveUpdate, { args: [{ identity: await identityToken(ctx.stack.file, 'carol') }] });
    await handle.executeUpdate(approveUpdate, { args: [{ identity: await identityToken(ctx.stack.file, 'dave') }] });
    const faults = new FaultClock();
    await crashAt(ctx.stack, faults, 'break_glass_grant.done', 'break_glass_revoke.done');
    for (let i = 0; i < 400 && (await handle.query(breakGlassStatusQuery)).phase !== 'granted'; i++) await sleep(50);
    await handle.executeUpdate('revoke', { args: [{ identity: await identityToken(ctx.stack.file, 'alice') }] });
    await crashAt(ctx.stack, faults, 'break_glass_revoke.done');
    const end = await ending<BreakGlassResult>(handle);
    faults.progressed(end.at);
    const violations = end.error ? [`${handle.workflowId}: ${end.error}`] : [];
    if (end.result && end.result.outcome !== 'revoked')
      violations.push(`${handle.workflowId}: ended ${end.result.outcome}, expected revoked`);
    const username = end.result && 'username' in end.result ? end.result.username : undefined;
    if (username) {
      const su = await superuserClient(ctx.stack.file, 'demo');
      try {
        if ((await su.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [username])).rowCount)
          violations.push(`${handle.workflowId}: the granted role ${username} still exists`);
      } finally {
        await su.end();
      }
    }
    const current = await kvVersion(ctx.stack, secretId);
    if (!(await canLogin(ctx.stack.file, current.data.username, current.data.password)))
      violations.push(`${secretId}: current version does not log in`);
    violations.push(...(await auditViolations(ctx.stack, handle.workflowId)));
    return { faults: faults.count, outcome: end.result?.outcome ?? 'failed', violations, recoverMs: faults.recoverMs };
  },
};

/** Issue #13: a promotion whose stamp fails on every attempt (Vault sealed right after the KV write). */
const vaultSealedAtPromotion: Scenario = {
  name: 'OpenBao sealed between promotion write and stamp',
  ci: true,
  async run(ctx) {
    const secretId = await ctx.newSecret('sealed');
    await ctx.stack.failpoints.hold('promote.written');
    const started = await startRotation(ctx.stack, secretId);
    await ctx.stack.failpoints.reached('promote.written', 60_000);
    await ctx.servers.sealVault();
    try {
      await ctx.stack.failpoints.release('promote.written');
      // Until promotion has used up its attempts and the workflow asks Vault whether its write
      // landed (findPromotion, retried until Vault answers), then unseal. Failed attempts leave
      // no audit row while sealed: rows are MAC'd with Vault's audit key (docs/invariants.md #8).
      await waitForPendingActivity(started.handle, 'findPromotion', 90_000);
    } finally {
      await ctx.servers.unsealVault();
    }
    return finishRotation(ctx, secretId, started, serverFault());
  },
};

/** A server down for the run's outage while the worker is at `point` (held there until the outage starts). */
function outageAt(name: string, prefix: string, point: string, outage: (ctx: ChaosContext) => Promise<void>): Scenario {
  return {
    name,
    ci: false,
    async run(ctx) {
      const secretId = await ctx.newSecret(prefix, { overlap: '1s' });
      await ctx.stack.failpoints.hold(point);
      const started = await startRotation(ctx.stack, secretId);
      await ctx.stack.failpoints.reached(point, 60_000);
      const down = outage(ctx);
      try {
        await ctx.stack.failpoints.release(point);
      } finally {
        await down; // never leave a server stopped for the next scenario
      }
      return finishRotation(ctx, secretId, started, serverFault());
    },
  };
}

const vaultStopped = outageAt('OpenBao stopped (SIGSTOP) mid-rotation', 'vaultstop', 'apply.start', (ctx) =>
  ctx.servers.stopVault(ctx.outageMs),
);

const postgresStopped = outageAt('PostgreSQL (targets and audit) stopped mid-rotation', 'pgstop', 'test.start', (ctx) =>
  ctx.servers.stopPostgres(ctx.outageMs),
);

const temporalRestarted: Scenario = {
  name: 'Temporal dev server SIGKILLed and restarted mid-rotation',
  ci: false,
  async run(ctx) {
    const secretId = await ctx.newSecret('tmprl', { overlap: '5s' });
    const started = await startRotation(ctx.stack, secretId);
    await waitForPhase(started.handle, 'overlap');
    await ctx.servers.restartTemporal();
    return finishRotation(ctx, secretId, started, serverFault());
  },
};

const auditLockedAtPromotion: Scenario = {
  name: 'audit table locked during promotion',
  ci: true,
  async run(ctx) {
    const secretId = await ctx.newSecret('auditlock', { overlap: '1s' });
    await ctx.stack.failpoints.hold('promote.start');
    const started = await startRotation(ctx.stack, secretId);
    await ctx.stack.failpoints.reached('promote.start', 60_000);
    const lock = await ctx.servers.lock('rotor', 'LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE');
    try {
      await ctx.stack.failpoints.release('promote.start');
      // A full run holds it past promotion's whole retry budget (5 attempts, each waiting out the
      // lock timeout for its success row and again for its failure row, plus backoff: about 65 s):
      // its audit row fails on every attempt after the KV write, so the rotation must roll back.
      await sleep(ctx.outageMs >= 30_000 ? 80_000 : ctx.outageMs);
    } finally {
      await lock.release();
    }
    return finishRotation(ctx, secretId, started, serverFault());
  },
};

/** Issue #13: an emergency revocation must not give up while the old role's row is locked. */
const roleLockedInEmergency: Scenario = {
  name: 'old role row locked during emergency revocation',
  ci: true,
  async run(ctx) {
    const secretId = await ctx.newSecret('rolelock');
    const before = await kvVersion(ctx.stack, secretId);
    const lock = await ctx.servers.lock('demo', `ALTER ROLE "${before.data.username}" CONNECTION LIMIT 100`);
    let started: Awaited<ReturnType<typeof startEmergencyRotation>>;
    let retrying = true;
    try {
      started = await startEmergencyRotation(ctx.stack, secretId);
      // Held past the emergency retry budget: until the rotation says it keeps retrying (or gave up and ended).
      let closed = false;
      void started.handle
        .result()
        .finally(() => (closed = true))
        .catch(() => undefined);
      const runId = started.handle.firstExecutionRunId;
      await waitForAuditRows(ctx, runId, 'revocation_retrying', 'failed', 1, 120_000, () => closed);
      retrying = !closed;
    } finally {
      await lock.release();
    }
    const record = await finishRotation(
      ctx,
      secretId,
      started,
      serverFault(),
      retrying ? [] : [`${secretId}: ended before it said it kept retrying`],
    );
    if (record.outcome !== 'rotated') record.violations.push(`${secretId}: an emergency rotation ended ${record.outcome}, not rotated`);
    record.violations.push(...(await incidentViolations(started.incident)));
    return record;
  },
};

export const SCENARIOS: Scenario[] = [
  workerKillRotate,
  workerKillPromotion,
  workerKillNoticed,
  workerKillRollback,
  workerKillEmergency,
  workerKillPlan,
  workerKillRevokeAll,
  workerKillBreakGlass,
  vaultSealedAtPromotion,
  vaultStopped,
  postgresStopped,
  temporalRestarted,
  auditLockedAtPromotion,
  roleLockedInEmergency,
];

async function waitForPhase(handle: WorkflowHandle, phase: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await handle.query(statusQuery).catch(() => undefined))?.phase !== phase) {
    if (Date.now() > deadline) throw new Error(`${handle.workflowId} never reached phase ${phase}`);
    await sleep(50);
  }
}

/** Waits until the workflow has a (non-local) activity of `type` scheduled or running. */
async function waitForPendingActivity(handle: WorkflowHandle, type: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending = (await handle.describe()).raw.pendingActivities ?? [];
    if (pending.some((a) => a.activityType?.name === type)) return;
    if (Date.now() > deadline) throw new Error(`${handle.workflowId}: no ${type} activity after ${timeoutMs / 1000}s`);
    await sleep(250);
  }
}

/** Waits for `count` audit rows of a step and outcome in one run (or until `stop()` says to give up waiting). */
async function waitForAuditRows(
  ctx: ChaosContext,
  runId: string,
  step: string,
  outcome: string,
  count: number,
  timeoutMs: number,
  stop: () => boolean = () => false,
) {
  const db = await superuserClient(ctx.stack.file, 'rotor');
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows = await db.query<{ n: string }>('SELECT count(*) AS n FROM audit_log WHERE run_id = $1 AND step = $2 AND outcome = $3', [
        runId,
        step,
        outcome,
      ]);
      if (Number(rows.rows[0]?.n) >= count || stop()) return;
      if (Date.now() > deadline)
        throw new Error(`run ${runId}: fewer than ${count} ${outcome} ${step} audit rows after ${timeoutMs / 1000}s`);
      await sleep(200);
    }
  } finally {
    await db.end();
  }
}

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadDeliveries } from '../../notifications/outbox-store.js';
import { cliEnv, describeRun, runCli } from '../helpers/run-cli.js';
import { checkStuckRotations } from '../../notifications/stuck-watch.js';
import { verifySignature } from '../../notifications/signature.js';
import {
  approveUpdate,
  breakGlassStatusQuery,
  confirmCutoverUpdate,
  incidentWorkflowId,
  rotationWorkflowId,
} from '../../workflows/contracts.js';
import { breakGlass } from '../../workflows/break-glass.js';
import { createWorker, type RotorWorker } from '../../workers/create-worker.js';
import { runIncident } from '../helpers/incident.js';
import { spawnWorker } from '../helpers/worker-process.js';
import { leakHaystack, seedWorkflowId } from '../helpers/leak-scan.js';
import { identityToken } from '../helpers/operators.js';
import { kvVersion, postgresSecretYaml, seed, startRotation, waitForStatus } from '../helpers/rotation-fixtures.js';
import { connectTestStack, createLogger, superuserClient, type StackConnection, type TestStack } from '../helpers/test-stack.js';

/**
 * Notifications end to end: real rotations, break-glass requests and an incident on the real
 * stack write audit rows; the worker's dispatcher turns them into deliveries to HTTP receivers
 * started here, which is what a team's webhook or Slack would see.
 */
interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown>;
  status: number;
  /** When it arrived (ms since the epoch). */
  at: number;
}

const tag = randomBytes(4).toString('hex');
// What a Slack incoming-webhook URL looks like: the path is the credential.
const slackToken = `xsecret${randomBytes(12).toString('hex')}`;
const signingKey = `whsec-${randomBytes(16).toString('hex')}`;
const vaultPath = (name: string) => `notifications/test-${tag}/${name}`;
const unhealthy = `      - name: billing\n        healthUrl: http://127.0.0.1:1/health\n        confirm: { mode: manual, timeout: 1m }`;
const unreachable = `      - name: billing\n        confirm: { mode: webhook, url: http://127.0.0.1:1/reload, timeout: 3s }`;
const manual = `      - name: ops\n        confirm: { mode: manual, timeout: 2m }`;

describe('notifications: audited events reach webhook and Slack receivers, retried and deduplicated', () => {
  let stack: TestStack;
  let conn: StackConnection;
  let receiver: Server;
  let base: string;
  const received: Received[] = [];
  const flakyAnswers = new Map<string, number>();
  const held: ServerResponse[] = [];
  let childLog = '';
  const logLines: string[] = [];
  const logger = createLogger('debug', { write: (line: string) => void logLines.push(line) } as pino.DestinationStream);
  let worker: RotorWorker | undefined;
  let workerRun: Promise<void> | undefined;
  const workflowIds: string[] = [];

  const startWorker = async () => {
    worker = await createWorker(conn.env, logger, { workflowBundle: { codePath: conn.workflowBundle } });
    workerRun = worker.worker.run();
  };
  /** Really stops the worker (and its dispatcher): polling ends, close() waits for the tick in flight. */
  const stopWorker = async () => {
    worker!.worker.shutdown();
    await workerRun;
    await worker!.close();
    worker = undefined;
  };

  const matching = (path: string, pred: (j: Record<string, unknown>) => boolean) =>
    received.filter((r) => r.path.startsWith(path) && pred(r.json));
  /** Waits until a receiver got a request at `path` whose body satisfies `pred`; returns every such request. */
  const waitFor = async (path: string, pred: (j: Record<string, unknown>) => boolean, timeoutMs = 30_000): Promise<Received[]> => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = matching(path, pred);
      if (found.some((r) => r.status >= 200 && r.status < 300)) return found;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`nothing matching arrived at ${path}; received: ${JSON.stringify(received.map((r) => [r.path, r.json]))}`);
  };
  const slackAbout = (words: string) => (j: Record<string, unknown>) => String(j['text'] ?? '').includes(words);
  const outboxRows = async (where: string, params: unknown[]) => {
    const su = await superuserClient(conn.file, 'rotor');
    try {
      return (await su.query(`SELECT * FROM notification_outbox WHERE scope = $1 AND ${where}`, [conn.taskQueue, ...params]))
        .rows as Record<string, unknown>[];
    } finally {
      await su.end();
    }
  };

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const path = req.url ?? '';
        const key = String(req.headers['idempotency-key']);
        let status = path === '/gone' ? 410 : 200;
        if (path === '/flaky') {
          const n = (flakyAnswers.get(key) ?? 0) + 1;
          flakyAnswers.set(key, n);
          status = n <= 2 ? 500 : 200;
        }
        if (path === '/hang' && !received.some((r) => r.path === '/hang')) {
          // The first attempt gets no answer: the worker sending it is killed meanwhile.
          received.push({ path, headers: req.headers, body, json: JSON.parse(body) as Record<string, unknown>, status: 0, at: Date.now() });
          held.push(res);
          return;
        }
        received.push({ path, headers: req.headers, body, json: JSON.parse(body) as Record<string, unknown>, status, at: Date.now() });
        res.writeHead(status).end(status >= 300 ? 'try again' : 'ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    const inventory = `secrets:
${postgresSecretYaml('nt-roll', unreachable)}${postgresSecretYaml('nt-fail', unhealthy)}    notify: [team, gone]
${postgresSecretYaml('nt-manual', manual)}${postgresSecretYaml('nt-flaky', unhealthy)}    notify: [flaky]
${postgresSecretYaml('nt-inc')}${postgresSecretYaml('nt-bg')}    notify: [hook]
${postgresSecretYaml('nt-crash', unhealthy)}    notify: [hang]
breakGlass:
  - id: nt-bg-ops
    secretId: nt-bg
    requesterGroups: [rotor-breakglass-requesters]
    approverGroups: [rotor-breakglass-approvers]
    approvals: 1
    maxTtl: 10s
    rotateAfter: false
  - id: nt-bg-short
    secretId: nt-bg
    requesterGroups: [rotor-breakglass-requesters]
    approverGroups: [rotor-breakglass-approvers]
    approvals: 1
    approvalTimeout: 2s
    rotateAfter: false
notifications:
  temporalUiUrl: http://127.0.0.1:8233
  default: [hook, slack]
  targets:
    hook: { type: webhook, url: ${base}/hook, signingKeyFrom: { vault: ${vaultPath('hook-key')} } }
    slack: { type: slack, urlFrom: { vault: ${vaultPath('slack')} } }
    team: { type: webhook, urlFrom: { vault: ${vaultPath('team')}, field: address }, events: [rollback, failure] }
    gone: { type: webhook, url: ${base}/gone }
    flaky: { type: webhook, url: ${base}/flaky }
    hang: { type: webhook, url: ${base}/hang }
`;
    conn = await connectTestStack('notifications', inventory);
    await conn.rootVault.kvWrite('rotor', vaultPath('hook-key'), { key: signingKey });
    await conn.rootVault.kvWrite('rotor', vaultPath('slack'), { url: `${base}/slack/T0${tag}/B0${tag}/${slackToken}` });
    await conn.rootVault.kvWrite('rotor', vaultPath('team'), { address: `${base}/team` });
    await startWorker();
    stack = {
      ...conn,
      logLines,
      get worker() {
        return worker!;
      },
      get workerRun() {
        return workerRun!;
      },
      close: async () => undefined,
    } as TestStack;
    for (const id of ['nt-roll', 'nt-fail', 'nt-manual', 'nt-flaky', 'nt-inc', 'nt-bg', 'nt-crash']) expect(await seed(conn, id)).toBe(1);
  });

  afterAll(async () => {
    const su = await superuserClient(conn.file, 'rotor');
    await su.query(
      "UPDATE incident_freeze SET lifted_at = now(), lifted_by = 'test-cleanup' WHERE incident_id = $1 AND lifted_at IS NULL",
      [`nt-inc-${tag}`],
    );
    await su.end();
    if (worker) await stopWorker();
    await conn?.connection.close();
    for (const res of held) res.destroy();
    await new Promise<void>((r) => receiver.close(() => r()));
  });

  it('a rollback reaches the default targets (a signed webhook and Slack); a failure the secret’s own targets, a refusing one marked dead', async () => {
    const roll = await startRotation(conn, 'nt-roll');
    const fail = await startRotation(conn, 'nt-fail');
    expect(await roll.result()).toMatchObject({ outcome: 'rolled_back', attemptedVersion: 2, restoredVersion: 3 });
    expect(await fail.result()).toMatchObject({ outcome: 'aborted' });

    const [hook] = await waitFor('/hook', (j) => j['event'] === 'rollback' && j['secretId'] === 'nt-roll');
    expect(hook!.json).toMatchObject({
      event: 'rollback',
      secretId: 'nt-roll',
      workflowId: 'rotate/nt-roll',
      runId: roll.firstExecutionRunId,
      outcome: 'rolled_back',
      versions: { from: 1, to: 3 }, // version 3 restores version 1's credential
      reason: expect.stringMatching(/billing/),
      uiUrl: `http://127.0.0.1:8233/namespaces/default/workflows/rotate%2Fnt-roll/${roll.firstExecutionRunId}/history`,
    });
    expect(hook!.headers['idempotency-key']).toBe(hook!.json['deliveryId']);
    expect(hook!.headers['x-rotor-event']).toBe('rollback');
    expect(verifySignature(signingKey, hook!.body, String(hook!.headers['x-rotor-signature']))).toBe(true);
    const [slack] = await waitFor('/slack/', slackAbout('Rotation of nt-roll rolled back: version 3 restores version 1'));
    expect(slack!.json).toMatchObject({ text: 'Rotation of nt-roll rolled back: version 3 restores version 1', blocks: expect.any(Array) });
    expect(slack!.headers['x-rotor-signature']).toBeUndefined(); // Slack's URL is its secret; nothing to sign with

    const [team] = await waitFor('/team', (j) => j['secretId'] === 'nt-fail');
    expect(team!.json).toMatchObject({
      event: 'failure',
      outcome: 'aborted',
      workflowId: 'rotate/nt-fail',
      reason: expect.stringMatching(/not healthy/),
    });

    // Routing: the failure went to nt-fail's own targets only, the rollback to the defaults only.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(matching('/hook', (j) => j['secretId'] === 'nt-fail')).toEqual([]);
    expect(matching('/slack/', slackAbout('nt-fail'))).toEqual([]);
    expect(matching('/team', (j) => j['secretId'] === 'nt-roll')).toEqual([]);
    // Once each: one request per delivery id.
    for (const r of [hook!, slack!, team!])
      expect(received.filter((x) => x.headers['idempotency-key'] === r.headers['idempotency-key'])).toHaveLength(1);

    // A 410 is an answer that will not change: no retry, a dead row and an error line say so.
    const gone = await outboxRows("target = 'gone' AND secret_id = 'nt-fail'", []);
    expect(gone).toEqual([
      expect.objectContaining({ state: 'dead', attempts: 1, last_error: 'target gone answered 410', kind: 'failure' }),
    ]);
    expect(matching('/gone', () => true)).toHaveLength(1);
    // What an operator's view lists, read as the worker's own database role.
    expect(await deadDeliveries(worker!.ctx.db, conn.taskQueue)).toEqual([
      expect.objectContaining({ target: 'gone', kind: 'failure', secretId: 'nt-fail', attempts: 1, lastError: 'target gone answered 410' }),
    ]);
    expect(logLines.some((l) => l.includes('notification refused; given up (dead)') && l.includes(String(gone[0]!['id'])))).toBe(true);
    // And what `rotor status` shows an operator (through the auditor's read-only login).
    const status = await runCli(['status'], { env: await cliEnv(conn) });
    expect(status.code, describeRun(status)).toBe(0);
    expect(status.stdout).toMatch(
      /^NOTIFICATION GIVEN UP failure \(nt-fail\) to gone at \d{4}-\S+ after 1 attempt\(s\): target gone answered 410$/m,
    );
  });

  it('manual confirmation needed is sent while the person is needed; a stuck phase once per run and phase', async () => {
    const handle = await startRotation(conn, 'nt-manual');
    workflowIds.push(handle.workflowId);
    const [needed] = await waitFor('/hook', (j) => j['event'] === 'manual_confirmation_needed' && j['secretId'] === 'nt-manual');
    expect(needed!.json).toMatchObject({ versions: { from: 1, to: 2 }, detail: { consumers: ['ops'] }, runId: handle.firstExecutionRunId });
    await waitFor('/slack/', slackAbout('nt-manual: version 2 is current; ops must confirm'));
    expect((await waitForStatus(conn, handle.workflowId, () => true)).phase).toBe('awaiting_confirmation');

    // Two hours on, the wait is past the consumer's timeout plus margin: stuck. Asked twice, queued once.
    const inventory = await worker!.ctx.inventory.current();
    const later = new Date(Date.now() + 2 * 3_600_000);
    const first = await checkStuckRotations({ client: conn.client, db: worker!.ctx.db, inventory, scope: conn.taskQueue, now: later });
    expect(first).toEqual({ kind: 'checked', stuck: 1, queued: 2 });
    const again = await checkStuckRotations({ client: conn.client, db: worker!.ctx.db, inventory, scope: conn.taskQueue, now: later });
    expect(again).toEqual({ kind: 'checked', stuck: 1, queued: 0 });
    const [stuck] = await waitFor('/hook', (j) => j['event'] === 'stuck' && j['secretId'] === 'nt-manual');
    expect(stuck!.json).toMatchObject({
      phase: 'awaiting_confirmation',
      runId: handle.firstExecutionRunId,
      detail: { limitMs: 2 * 60_000 + 5 * 60_000 },
    });

    await handle.executeUpdate(confirmCutoverUpdate, {
      args: [{ consumer: 'ops', version: 2, identity: await identityToken(conn.file, 'carol') }],
    });
    expect(await handle.result()).toMatchObject({ outcome: 'rotated' });
    // A rotation that rotated notifies nothing more.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(matching('/hook', (j) => j['secretId'] === 'nt-manual').map((r) => r.json['event'])).toEqual([
      'manual_confirmation_needed',
      'stuck',
    ]);
  });

  it('break-glass: a request, its approval and an expiry notify', async () => {
    const request = async (policyId: string, ttl: string) => {
      const workflowId = `break-glass/${policyId}/${Date.now()}`;
      workflowIds.push(workflowId);
      const h = await conn.client.workflow.start(breakGlass, {
        taskQueue: conn.taskQueue,
        workflowId,
        args: [{ policyId, identity: await identityToken(conn.file, 'alice'), justification: 'inspect locks', ttl }],
      });
      for (let i = 0; i < 100 && !(await h.query(breakGlassStatusQuery)).open; i++) await new Promise((r) => setTimeout(r, 50));
      return h;
    };
    const approved = await request('nt-bg-ops', '3s');
    const [requested] = await waitFor('/hook', (j) => j['event'] === 'break_glass_requested' && j['workflowId'] === approved.workflowId);
    expect(requested!.json).toMatchObject({
      secretId: 'nt-bg',
      detail: { requester: 'alice', policyId: 'nt-bg-ops', justification: 'inspect locks', ttlSeconds: 3 },
    });
    await approved.executeUpdate(approveUpdate, { args: [{ identity: await identityToken(conn.file, 'carol') }] });
    const [approval] = await waitFor('/hook', (j) => j['event'] === 'break_glass_approved' && j['workflowId'] === approved.workflowId);
    expect(approval!.json).toMatchObject({
      detail: {
        approvals: 1,
        required: 1,
        requestId: requested!.json['detail'] && (requested!.json['detail'] as Record<string, unknown>)['requestId'],
      },
    });
    expect(await approved.result()).toMatchObject({ outcome: 'revoked', revokedBy: 'ttl' });

    const expiring = await request('nt-bg-short', '5s');
    expect(await expiring.result()).toMatchObject({ outcome: 'expired' });
    await waitFor('/hook', (j) => j['event'] === 'break_glass_expired' && j['workflowId'] === expiring.workflowId);
    // nt-bg names its own target (hook): Slack, a default, hears nothing of it.
    expect(matching('/slack/', slackAbout('nt-bg'))).toEqual([]);
  });

  it('an incident start notifies the default targets', async () => {
    const incidentId = `nt-inc-${tag}`;
    workflowIds.push(incidentWorkflowId(incidentId));
    await runIncident(conn, { incidentId, reason: 'leaked in a build log', secretIds: ['nt-inc'], by: 'alice' });
    const [started] = await waitFor(
      '/hook',
      (j) => j['event'] === 'incident_started' && (j['detail'] as Record<string, unknown>)['incidentId'] === incidentId,
    );
    expect(started!.json).toMatchObject({
      secretId: null,
      reason: 'leaked in a build log',
      detail: { scope: 'nt-inc', startedBy: 'alice' },
    });
    await waitFor('/slack/', slackAbout(`Incident ${incidentId} started by alice`));
  });

  it('a receiver failing twice gets the event once it recovers, same key and body; a worker stopped mid-way loses and repeats nothing', async () => {
    const handle = await startRotation(conn, 'nt-flaky');
    expect(await handle.result()).toMatchObject({ outcome: 'aborted' });
    // Stopped at once: the dispatcher has not seen the row yet, or has queued it, or has tried once.
    await stopWorker();
    const whileStopped = received.filter((r) => r.path === '/flaky').length;
    expect(whileStopped).toBeLessThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 4_000));
    expect(received.filter((r) => r.path === '/flaky')).toHaveLength(whileStopped); // really stopped: nobody else delivers it
    await startWorker();

    const attempts = await waitFor('/flaky', (j) => j['secretId'] === 'nt-flaky', 60_000);
    await new Promise((r) => setTimeout(r, 3_000)); // nothing after the 200
    const all = received.filter((r) => r.path === '/flaky');
    expect(all.map((r) => r.status)).toEqual([500, 500, 200]);
    expect(attempts).toHaveLength(3);
    expect(new Set(all.map((r) => r.headers['idempotency-key'])).size).toBe(1);
    expect(new Set(all.map((r) => r.body)).size).toBe(1);
    expect(all.map((r) => r.headers['x-rotor-attempt'])).toEqual(['1', '2', '3']);
    expect(all[0]!.json).toMatchObject({ event: 'failure', workflowId: 'rotate/nt-flaky', runId: handle.firstExecutionRunId });
    const rows = await outboxRows("target = 'flaky'", []);
    expect(rows).toEqual([expect.objectContaining({ state: 'delivered', attempts: 3, id: all[0]!.headers['idempotency-key'] })]);
  });

  it('a worker killed (SIGKILL) while sending: the next worker sends it again once the claim lapses, with the same key, once', async () => {
    await stopWorker();
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(conn.env)) if (v !== undefined) env[k] = String(v);
    const logFile = join(conn.file.stateDir, `notifications-child-${conn.taskQueue}.log`);
    const child = spawnWorker({ ...env, ROTOR_LOG_LEVEL: 'debug' }, conn.workflowBundle, logFile);
    try {
      await child.ready;
      const handle = await startRotation(conn, 'nt-crash');
      expect(await handle.result()).toMatchObject({ outcome: 'aborted' });
      const deadline = Date.now() + 30_000;
      while (!received.some((r) => r.path === '/hang') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(received.filter((r) => r.path === '/hang')).toHaveLength(1); // sent, not answered
      await child.crash();
    } finally {
      await child.crash();
      childLog = readFileSync(logFile, 'utf8');
    }
    const [claimed] = await outboxRows("target = 'hang'", []);
    expect(claimed).toMatchObject({ state: 'pending', attempts: 1 });

    await startWorker();
    // The killed worker's claim (60 s) must run out first: no second worker sends it meanwhile.
    const sent = await waitFor('/hang', (j) => j['secretId'] === 'nt-crash', 90_000);
    await new Promise((r) => setTimeout(r, 3_000));
    const all = received.filter((r) => r.path === '/hang');
    expect(all.map((r) => r.status)).toEqual([0, 200]);
    expect(sent).toHaveLength(2);
    expect(all[1]!.headers['idempotency-key']).toBe(all[0]!.headers['idempotency-key']);
    expect(all[1]!.body).toBe(all[0]!.body);
    expect(all.map((r) => r.headers['x-rotor-attempt'])).toEqual(['1', '2']);
    // Not before the killed worker's 60 s claim ran out (less a little for clocks and the tick).
    expect(all[1]!.at - all[0]!.at).toBeGreaterThan(55_000);
    expect(await outboxRows("target = 'hang'", [])).toEqual([expect.objectContaining({ state: 'delivered', attempts: 2 })]);
  }, 180_000);

  it('no secret value in any notification, and the Slack URL and signing key nowhere: logs, errors, audit rows, histories, outbox', async () => {
    const ids = ['nt-roll', 'nt-fail', 'nt-manual', 'nt-flaky', 'nt-inc', 'nt-bg', 'nt-crash'];
    const values: string[] = [];
    for (const id of ids)
      for (const v of [1, 2])
        values.push(
          ...(await kvVersion(conn, id, v).then(
            (r) => [r.data.password],
            () => [],
          )),
        );
    expect(values.length).toBeGreaterThanOrEqual(8);
    // What receivers got (the request path aside: the Slack URL is where it was sent, by design).
    const bodies = received.map((r) => `${JSON.stringify(r.headers)}\n${r.body}`).join('\n');
    for (const v of values) expect(bodies).not.toContain(v);

    expect(childLog).toContain('nt-crash'); // the killed worker's log is really scanned
    const outbox = (await outboxRows('true', [])).map((r) => JSON.stringify(r)).join('\n');
    expect(outbox).toContain('nt-roll');
    const rotations = ['nt-roll', 'nt-fail', 'nt-manual', 'nt-flaky', 'nt-crash'].map(rotationWorkflowId);
    const haystack = await leakHaystack(stack, {
      workflowIds: [...ids.map((id) => seedWorkflowId(stack, id)), ...rotations, ...workflowIds],
      secretIds: ids,
      extraText: [outbox, bodies, childLog],
    });
    for (const credential of [slackToken, signingKey, `${base}/team`]) expect(haystack).not.toContain(credential);
    for (const v of values) expect(haystack).not.toContain(v);
    expect(logLines.some((l) => l.includes('notification delivered'))).toBe(true);
  });
});

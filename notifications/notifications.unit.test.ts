import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InventoryError, parseInventory } from '../config/load-inventory.js';
import { renderWorkerPolicies } from '../vault/policies/worker-policy.js';
import { eventOfAuditRow, type AuditRow } from './audit-events.js';
import { afterFailure, DEFAULT_RETRY_POLICY } from './backoff.js';
import { requestOf } from './deliver.js';
import type { NotificationEvent } from './notification-event.js';
import { NOTIFICATION_KINDS } from './notification-kind.js';
import { deliveryId } from './outbox-store.js';
import { assertBodyFree, assertSafeEvent, UnsafePayloadError } from './payload-guard.js';
import { slackBody, webhookBody } from './payloads.js';
import { targetsOf } from './routing.js';
import { verifySignature } from './signature.js';
import { stuckEvent } from './stuck-watch.js';

const secretYaml = (id: string, extra = '') => `  - id: ${id}
    path: apps/${id}
    owner: team-test
    provider: { type: postgres, adminPath: _rotor/admin/demo-postgres, users: [${id.replace(/-/g, '_')}_a, ${id.replace(/-/g, '_')}_b] }
    consumers:
      - name: ops
        confirm: { mode: manual }
      - name: billing
        confirm: { mode: webhook, url: http://127.0.0.1:9101/reload }
${extra}`;

const INVENTORY = `secrets:
${secretYaml('pay-db')}${secretYaml('own-db', '    notify: [team-hook]\n')}${secretYaml('quiet-db', '    notify: []\n')}
notifications:
  temporalUiUrl: http://127.0.0.1:8233
  default: [ops-slack, all-hook]
  targets:
    ops-slack: { type: slack, urlFrom: { vault: notifications/slack-ops } }
    all-hook: { type: webhook, url: https://hooks.example.test/rotor, signingKeyFrom: { vault: notifications/hook-key } }
    team-hook: { type: webhook, urlFrom: { vault: notifications/team-hook, field: address }, events: [rollback, failure] }
`;
const inventory = parseInventory(INVENTORY, 'notifications.yaml');

const row = (over: Partial<AuditRow>): AuditRow => ({
  seq: 7,
  eventKey: 'rotate/pay-db/run-1/event/e1',
  at: new Date('2026-11-30T12:00:00.000Z'),
  actor: 'schedule',
  workflowId: 'rotate/pay-db',
  runId: 'run-1',
  secretId: 'pay-db',
  step: 'rotation_finished',
  outcome: 'failed',
  fromVersion: 3,
  toVersion: 4,
  detail: {},
  ...over,
});

function problemsOf(yaml: string): string[] {
  try {
    parseInventory(yaml, 'bad.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(InventoryError);
    return (err as InventoryError).problems;
  }
  throw new Error('the inventory was accepted');
}

describe('inventory: notification targets', () => {
  it('parses targets, defaults and per-secret lists', () => {
    expect(inventory.notifications.default).toEqual(['ops-slack', 'all-hook']);
    expect(inventory.notifications.targets['team-hook']).toMatchObject({ urlFrom: { vault: 'notifications/team-hook', field: 'address' } });
    expect(inventory.notifications.targets['ops-slack']).toMatchObject({ urlFrom: { field: 'url' } });
    expect(inventory.secrets.map((s) => s.notify)).toEqual([undefined, ['team-hook'], []]);
    // An inventory without the section has none.
    expect(parseInventory(`secrets:\n${secretYaml('a-db')}`).notifications).toEqual({ targets: {}, default: [] });
  });

  it('refuses a Slack URL written in the file, naming the field and the fix, without echoing it', () => {
    const url = 'https://hooks.slack.com/services/T000/B000/XXXXXXXXSECRET';
    const problems = problemsOf(`secrets:\n${secretYaml('a-db')}notifications:\n  targets:\n    ops: { type: slack, url: "${url}" }\n`);
    expect(problems).toEqual([
      expect.stringMatching(
        /^notifications\.targets\.ops\.url: a Slack webhook URL is a credential .* urlFrom: \{ vault: "notifications\/slack-ops" \}$/,
      ),
      expect.stringMatching(/^notifications\.targets\.ops\.urlFrom: /),
    ]);
    expect(problems.join('\n')).not.toContain('XXXXXXXXSECRET');
  });

  it('refuses a malformed target name, a target without urlFrom, and a target list that is not a list', () => {
    expect(
      problemsOf(
        `secrets:\n${secretYaml('a-db')}notifications:\n  default: ops\n  targets:\n    Ops_Slack: { type: slack }\n    ops: { type: slack }\n`,
      ),
    ).toEqual([
      'notifications.targets.Ops_Slack: a target name uses lower-case letters, digits and dashes (e.g. "ops-slack")',
      'notifications.targets.ops.urlFrom: give where Vault holds the URL, e.g. { vault: "notifications/ops", field: "url" }',
      'notifications.default: a list of target names, e.g. [ops-slack]',
    ]);
  });

  it('refuses unknown target names where they are used, listing the declared ones', () => {
    const problems = problemsOf(
      `secrets:\n${secretYaml('a-db', '    notify: [nope]\n')}notifications:\n  default: [missing]\n  targets:\n    ops: { type: webhook, url: "https://h.example.test/x" }\n`,
    );
    expect(problems).toEqual([
      'notifications.default[0]: unknown notification target "missing"; declare it under notifications.targets (declared: ops)',
      'secrets[0].notify[0]: unknown notification target "nope"; declare it under notifications.targets (declared: ops)',
    ]);
  });

  it('refuses a webhook with both or neither URL, an unknown type or event, and a target reading a managed secret', () => {
    const problems = problemsOf(`secrets:\n${secretYaml('a-db')}notifications:
  targets:
    both: { type: webhook, url: "https://h.example.test/x", urlFrom: { vault: notifications/x } }
    neither: { type: webhook }
    pager: { type: pagerduty, url: "https://h.example.test/x" }
    noisy: { type: webhook, url: "https://h.example.test/x", events: [everything] }
`);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^notifications\.targets\.both\.url: give exactly one of url .* or urlFrom/),
        expect.stringMatching(/^notifications\.targets\.neither\.url: give exactly one of url/),
        'notifications.targets.pager.type: type must be "webhook" or "slack"',
        expect.stringMatching(/^notifications\.targets\.noisy\.events\[0\]: must be one of rollback, failure, stuck/),
      ]),
    );
    expect(problems).toHaveLength(4);
    // Checked once the rest is valid: a URL read from a rotated secret's path would send its value out.
    expect(
      problemsOf(`secrets:\n${secretYaml('a-db')}notifications:\n  targets:\n    leaky: { type: slack, urlFrom: { vault: apps/a-db } }\n`),
    ).toEqual([
      'notifications.targets.leaky.urlFrom.vault: "apps/a-db" is the path of secrets[0] ("a-db"), a rotated credential: keep the target\'s value at a path of its own, e.g. "notifications/leaky"',
    ]);
    // Nor an admin credential, wherever its adminPath points (a signing key is read with the worker's policy too).
    const adminElsewhere = secretYaml('b-db').replace('_rotor/admin/demo-postgres', 'ops/pg-admin');
    expect(
      problemsOf(
        `secrets:\n${adminElsewhere}notifications:\n  targets:\n    admin: { type: webhook, url: "https://h.example.test/x", signingKeyFrom: { vault: ops/pg-admin } }\n`,
      ),
    ).toEqual([
      'notifications.targets.admin.signingKeyFrom.vault: "ops/pg-admin" is the admin credential of secrets[0] ("b-db"): keep the target\'s value at a path of its own, e.g. "notifications/admin"',
    ]);
  });

  it('the commented example in config/inventory.example.yaml is valid once uncommented', () => {
    const text = readFileSync(new URL('../config/inventory.example.yaml', import.meta.url), 'utf8');
    const block = text.slice(text.indexOf('# notifications:')).split('\n');
    const uncommented = block.map((l) => l.replace(/^# ?/, '')).join('\n');
    const example = parseInventory(text + '\n' + uncommented, 'inventory.example.yaml');
    expect(example.notifications.default).toEqual(['ops-slack']);
    expect(Object.keys(example.notifications.targets)).toEqual(['ops-slack', 'ops-webhook']);
  });

  it('the worker policy reads exactly the target paths the inventory names', () => {
    const { worker } = renderWorkerPolicies(inventory, { kvMount: 'rotor', name: 'rotor-worker' });
    for (const path of ['notifications/slack-ops', 'notifications/hook-key', 'notifications/team-hook'])
      expect(worker).toContain(`path "rotor/data/${path}" { capabilities = ["read"] }`);
    expect(worker).not.toMatch(/rotor\/data\/notifications\/\*/);
  });
});

describe('audit rows to notification events', () => {
  it('a rollback, a failure, and nothing for a rotation that rotated or was skipped', () => {
    expect(eventOfAuditRow(row({ detail: { outcome: 'rolled_back', reason: 'consumer billing did not confirm' } }), inventory)).toEqual({
      id: 'audit/rotate/pay-db/run-1/event/e1',
      kind: 'rollback',
      outcome: 'rolled_back',
      reason: 'consumer billing did not confirm',
      secretId: 'pay-db',
      workflowId: 'rotate/pay-db',
      runId: 'run-1',
      at: '2026-11-30T12:00:00.000Z',
      versions: { from: 3, to: 4 },
    });
    expect(eventOfAuditRow(row({ detail: { outcome: 'aborted', reason: 'x'.repeat(900) } }), inventory)).toMatchObject({
      kind: 'failure',
      outcome: 'aborted',
      reason: 'x'.repeat(500),
    });
    expect(eventOfAuditRow(row({ detail: { outcome: 'revocation_failed', reason: 'r' } }), inventory)?.kind).toBe('failure');
    expect(eventOfAuditRow(row({ outcome: 'succeeded', detail: { outcome: 'rotated' } }), inventory)).toBeUndefined();
    expect(eventOfAuditRow(row({ detail: { outcome: 'skipped' } }), inventory)).toBeUndefined();
  });

  it('manual confirmation needed after a promotion, naming the manual consumers only', () => {
    const promoted = row({ step: 'promote', outcome: 'succeeded', eventKey: 'k/promote/succeeded' });
    expect(eventOfAuditRow(promoted, inventory)).toMatchObject({
      kind: 'manual_confirmation_needed',
      consumers: ['ops'],
      versions: { from: 3, to: 4 },
    });
    expect(eventOfAuditRow({ ...promoted, outcome: 'failed' }, inventory)).toBeUndefined();
  });

  it('break-glass: a request that started, the approval that completes it, an expiry', () => {
    const bg = { secretId: 'pay-db', workflowId: 'break-glass/p/1', runId: 'r', fromVersion: null, toVersion: null, outcome: 'succeeded' };
    expect(
      eventOfAuditRow(
        row({
          ...bg,
          step: 'break_glass_request',
          actor: 'alice',
          detail: { outcome: 'started', requestId: 'q1', policyId: 'p', justification: 'locks', ttlSeconds: 600 },
        }),
        inventory,
      ),
    ).toMatchObject({
      kind: 'break_glass_requested',
      requester: 'alice',
      requestId: 'q1',
      policyId: 'p',
      justification: 'locks',
      ttlSeconds: 600,
      versions: {},
    });
    expect(eventOfAuditRow(row({ ...bg, step: 'break_glass_request', detail: { outcome: 'refused' } }), inventory)).toBeUndefined();
    expect(eventOfAuditRow(row({ ...bg, step: 'break_glass_approved', detail: { approvals: 1, required: 2 } }), inventory)).toBeUndefined();
    expect(
      eventOfAuditRow(
        row({ ...bg, step: 'break_glass_approved', detail: { approvals: 2, required: 2, requestId: 'q1', policyId: 'p' } }),
        inventory,
      ),
    ).toMatchObject({
      kind: 'break_glass_approved',
      approvals: 2,
      required: 2,
    });
    expect(
      eventOfAuditRow(row({ ...bg, step: 'break_glass_expired', detail: { requestId: 'q1', policyId: 'p' } }), inventory),
    ).toMatchObject({ kind: 'break_glass_expired' });
  });

  it('an incident in scope (or of everything) starts one; rows of secrets another inventory names start nothing', () => {
    const freeze = row({
      step: 'incident_freeze',
      outcome: 'succeeded',
      secretId: null,
      actor: 'alice',
      detail: { incidentId: 'inc-1', reason: 'leak', scope: 'pay-db' },
    });
    expect(eventOfAuditRow(freeze, inventory)).toMatchObject({
      kind: 'incident_started',
      incidentId: 'inc-1',
      startedBy: 'alice',
      scope: 'pay-db',
    });
    expect(eventOfAuditRow({ ...freeze, detail: { ...freeze.detail, scope: 'everything' } }, inventory)?.kind).toBe('incident_started');
    expect(eventOfAuditRow({ ...freeze, detail: { ...freeze.detail, scope: 'other-db' } }, inventory)).toBeUndefined();
    expect(eventOfAuditRow(row({ secretId: 'other-db', detail: { outcome: 'rolled_back' } }), inventory)).toBeUndefined();
    expect(eventOfAuditRow(row({ step: 'stage', detail: {} }), inventory)).toBeUndefined();
  });
});

describe('routing', () => {
  const rollback = (secretId: string) => eventOfAuditRow(row({ secretId, detail: { outcome: 'rolled_back' } }), inventory)!;
  it('the default targets, a secret’s own list instead, [] for none, and a target’s event filter', () => {
    expect(targetsOf(rollback('pay-db'), inventory)).toEqual(['all-hook', 'ops-slack']);
    expect(targetsOf(rollback('own-db'), inventory)).toEqual(['team-hook']);
    expect(targetsOf(rollback('quiet-db'), inventory)).toEqual([]);
    const manual = eventOfAuditRow(row({ secretId: 'own-db', step: 'promote', outcome: 'succeeded' }), inventory)!;
    expect(targetsOf(manual, inventory)).toEqual([]); // team-hook takes rollbacks and failures only
  });
  it('an incident reaches the defaults and the targets its secrets name', () => {
    const freeze = row({
      step: 'incident_freeze',
      outcome: 'succeeded',
      secretId: null,
      detail: { incidentId: 'i', scope: 'own-db,quiet-db' },
    });
    // team-hook (named by own-db) takes rollbacks and failures only; quiet-db opted out.
    expect(targetsOf(eventOfAuditRow(freeze, inventory)!, inventory)).toEqual(['all-hook', 'ops-slack']);
  });
});

describe('payloads', () => {
  const events: NotificationEvent[] = [
    eventOfAuditRow(row({ detail: { outcome: 'rolled_back', reason: 'billing <!channel> did not confirm' } }), inventory)!,
    eventOfAuditRow(row({ detail: { outcome: 'aborted', reason: 'r' } }), inventory)!,
    eventOfAuditRow(row({ step: 'promote', outcome: 'succeeded' }), inventory)!,
    stuckEvent({
      secretId: 'pay-db',
      workflowId: 'rotate/pay-db',
      runId: 'run-1',
      phase: 'awaiting_confirmation',
      phaseSince: new Date('2026-11-30T10:00:00Z'),
      limitMs: 60_000,
      stuck: true,
    }),
    eventOfAuditRow(
      row({ step: 'break_glass_request', outcome: 'succeeded', detail: { outcome: 'started', requestId: 'q', policyId: 'p' } }),
      inventory,
    )!,
    eventOfAuditRow(
      row({ step: 'break_glass_approved', outcome: 'succeeded', detail: { approvals: 1, required: 1, requestId: 'q', policyId: 'p' } }),
      inventory,
    )!,
    eventOfAuditRow(row({ step: 'break_glass_expired', outcome: 'succeeded', detail: { requestId: 'q', policyId: 'p' } }), inventory)!,
    eventOfAuditRow(
      row({ step: 'incident_freeze', outcome: 'succeeded', secretId: null, detail: { incidentId: 'i', scope: 'everything' } }),
      inventory,
    )!,
  ];
  const link = { namespace: 'default', temporalUiUrl: 'http://127.0.0.1:8233/' };

  it('every kind is covered, passes the guard and renders both bodies', () => {
    expect(new Set(events.map((e) => e.kind))).toEqual(new Set(NOTIFICATION_KINDS));
    for (const e of events) {
      expect(() => assertSafeEvent(e)).not.toThrow();
      expect(slackBody(e, 'd1', link).text.length).toBeGreaterThan(10);
      expect(webhookBody(e, 'd1', link)).toMatchObject({ event: e.kind, deliveryId: 'd1', at: e.at });
    }
  });

  it('the webhook body carries references and a UI link; Slack text cannot ping a channel', () => {
    expect(webhookBody(events[0]!, 'd1', link)).toEqual({
      event: 'rollback',
      deliveryId: 'd1',
      secretId: 'pay-db',
      workflowId: 'rotate/pay-db',
      runId: 'run-1',
      outcome: 'rolled_back',
      reason: 'billing <!channel> did not confirm',
      versions: { from: 3, to: 4 },
      at: '2026-11-30T12:00:00.000Z',
      uiUrl: 'http://127.0.0.1:8233/namespaces/default/workflows/rotate%2Fpay-db/run-1/history',
      detail: {},
    });
    expect(webhookBody(events[3]!, 'd1', link)).toMatchObject({
      event: 'stuck',
      phase: 'awaiting_confirmation',
      detail: { phaseSince: '2026-11-30T10:00:00.000Z', limitMs: 60_000 },
    });
    const slack = JSON.stringify(slackBody(events[0]!, 'd1', link));
    expect(slack).toContain('&lt;!channel&gt;');
    expect(slack).not.toContain('<!channel>');
  });

  it('the guard refuses a field that is not a reference, and a body holding a credential the worker knows', () => {
    const sneaky = { ...events[0]!, password: 'hunter2' } as unknown as NotificationEvent;
    expect(() => assertSafeEvent(sneaky)).toThrow(
      new UnsafePayloadError('password', 'not a field a notification carries (references only)'),
    );
    expect(() => assertSafeEvent({ ...events[0]!, versions: { from: 1, value: 's3cr3t' } } as unknown as NotificationEvent)).toThrow(
      /"versions\.value"/,
    );
    expect(() =>
      assertBodyFree('{"x":"https://hooks.slack.com/services/T/B/abcdef"}', ['https://hooks.slack.com/services/T/B/abcdef']),
    ).toThrow(UnsafePayloadError);
    expect(() => assertBodyFree('{"x":1}', ['https://hooks.slack.com/services/T/B/abcdef'])).not.toThrow();
  });

  it('a request: idempotency key, event header, an HMAC signature receivers can verify', () => {
    const { body, headers } = requestOf({
      deliveryId: deliveryId('rotor', events[0]!.id, 'all-hook'),
      targetName: 'all-hook',
      target: inventory.notifications.targets['all-hook']!,
      resolved: { url: 'https://hooks.example.test/rotor', signingKey: 'k'.repeat(32) },
      event: events[0]!,
      attempt: 2,
      link,
    });
    expect(headers['idempotency-key']).toBe(deliveryId('rotor', events[0]!.id, 'all-hook'));
    expect(headers['idempotency-key']).toMatch(/^[0-9a-f]{32}$/);
    expect(headers['x-rotor-event']).toBe('rollback');
    expect(verifySignature('k'.repeat(32), body, headers['x-rotor-signature']!)).toBe(true);
    expect(verifySignature('k'.repeat(32), body.replace('pay-db', 'pay-dc'), headers['x-rotor-signature']!)).toBe(false);
    expect(deliveryId('rotor', events[0]!.id, 'ops-slack')).not.toBe(headers['idempotency-key']);
  });
});

describe('retry schedule', () => {
  const noJitter = { ...DEFAULT_RETRY_POLICY, jitter: 0 };
  it('doubles from 2 s up to 15 min, with jitter on top only', () => {
    expect([1, 2, 3, 4].map((n) => afterFailure(n, 0, noJitter, 0))).toEqual(
      [2_000, 4_000, 8_000, 16_000].map((delayMs) => ({ kind: 'retry', delayMs })),
    );
    expect(afterFailure(40, 0, noJitter, 0)).toEqual({ kind: 'retry', delayMs: 15 * 60_000 });
    expect(afterFailure(1, 0, DEFAULT_RETRY_POLICY, 0.999)).toEqual({ kind: 'retry', delayMs: 2_400 });
  });
  it('gives up once the next attempt would come after 24 hours', () => {
    expect(afterFailure(100, 24 * 3_600_000 - 60_000, noJitter, 0)).toMatchObject({
      kind: 'dead',
      reason: expect.stringMatching(/after 100 attempts/),
    });
    expect(afterFailure(2, 60_000, noJitter, 0).kind).toBe('retry');
  });
});

import { describe, expect, it } from 'vitest';
import {
  compliance,
  credentialSince,
  formatAge,
  formatMarkdown,
  formatTable,
  isLongLived,
  ownerScores,
  type DebtReport,
  type SecretDebt,
} from '../../cli/debt-report.js';
import { cadenceInterval, cronNextRuns } from '../../cli/cadence-interval.js';
import { describeCadence } from '../../schedules/schedule-changes.js';

const H = 3_600_000;
const D = 24 * H;
const now = new Date('2025-06-11T12:00:00Z'); // a Wednesday
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();
const every = (ms: number, paused = false) => ({ every: ms, paused });

describe('cadence intervals', () => {
  it('every is taken as given; cron is the longest gap among its next runs (UTC)', () => {
    expect(cadenceInterval(every(H), now)).toBe(H);
    expect(cadenceInterval({ cron: '0 3 * * *', paused: false }, now)).toBe(D);
    expect(cadenceInterval({ cron: '@weekly', paused: false }, now)).toBe(7 * D);
    expect(cadenceInterval({ cron: '@hourly', paused: false }, now)).toBe(H);
    expect(cadenceInterval({ cron: '*/15 * * * *', paused: false }, now)).toBe(15 * 60_000);
    // Mondays and Fridays: 3 and 4 days apart; the longer gap counts.
    expect(cadenceInterval({ cron: '0 0 * * MON,FRI', paused: false }, now)).toBe(4 * D);
    // Monthly: the longest month among the next eight.
    expect(cadenceInterval({ cron: '0 0 1 * *', paused: false }, now)).toBe(31 * D);
  });

  it('cron next runs follow the rules of Temporal Schedules, in UTC', () => {
    expect(cronNextRuns('30 4 * * 1-5', now, 3)!.map((d) => d.toISOString())).toEqual([
      '2025-06-12T04:30:00.000Z',
      '2025-06-13T04:30:00.000Z',
      '2025-06-16T04:30:00.000Z',
    ]);
    // Both day fields restricted: both must match, as Temporal runs it (a Sunday the 13th), not
    // classic cron's either (which would say the 13th of June and Sunday the 15th).
    expect(cronNextRuns('0 0 13 * 0', now, 2)!.map((d) => d.toISOString())).toEqual([
      '2025-07-13T00:00:00.000Z',
      '2026-09-13T00:00:00.000Z',
    ]);
    expect(cronNextRuns('0 0 29 2 *', now, 1)![0]!.toISOString()).toBe('2028-02-29T00:00:00.000Z');
  });

  it('cron syntax beyond the evaluator falls back to the schedule, else unknown', () => {
    expect(cronNextRuns('0 0 L * *', now, 2)).toBeUndefined();
    expect(cadenceInterval({ cron: '0 0 ? * 5#3', paused: false }, now)).toBeUndefined();
    const times = [new Date('2025-06-20T00:00:00Z'), new Date('2025-07-18T00:00:00Z'), new Date('2025-08-15T00:00:00Z')];
    expect(cadenceInterval({ cron: '0 0 ? * 5#3', paused: false }, now, times)).toBe(28 * D);
  });

  it('cadence text', () => {
    expect(describeCadence(every(H))).toBe('every 1h');
    expect(describeCadence({ every: 90 * 60_000, jitter: 5 * 60_000, paused: true })).toBe('every 90m, jitter 5m, paused');
    expect(describeCadence({ cron: '0 3 * * 0', paused: false })).toBe('cron "0 3 * * 0"');
  });
});

describe('compliance', () => {
  const base = { schedulePaused: null, intervalMs: H, lastSuccessAt: null, credentialSince: null };

  it('ok within 1.5 × the interval of the last success, overdue beyond it', () => {
    expect(compliance({ ...base, cadence: every(H), lastSuccessAt: ago(1.4 * H) }, now)).toEqual({
      compliance: 'ok',
      dueBy: new Date(now.getTime() + 0.1 * H).toISOString(),
    });
    expect(compliance({ ...base, cadence: every(H), lastSuccessAt: ago(1.6 * H) }, now).compliance).toBe('overdue');
    // The last success counts, not a newer version written by a rollback.
    expect(compliance({ ...base, cadence: every(H), lastSuccessAt: ago(2 * H), credentialSince: ago(60_000) }, now).compliance).toBe(
      'overdue',
    );
  });

  it('never rotated: measured from the current credential; no version at all is overdue', () => {
    expect(compliance({ ...base, cadence: every(H), credentialSince: ago(10 * 60_000) }, now).compliance).toBe('ok');
    expect(compliance({ ...base, cadence: every(H), credentialSince: ago(2 * H) }, now).compliance).toBe('overdue');
    expect(compliance({ ...base, cadence: every(H) }, now).compliance).toBe('overdue');
  });

  it('no cadence, paused (inventory or schedule), unknown interval', () => {
    expect(compliance({ ...base, cadence: undefined, lastSuccessAt: ago(1000 * D) }, now)).toEqual({
      compliance: 'no cadence',
      dueBy: null,
    });
    expect(compliance({ ...base, cadence: every(H, true), lastSuccessAt: ago(1000 * D) }, now).compliance).toBe('paused');
    expect(compliance({ ...base, cadence: every(H), schedulePaused: true, lastSuccessAt: ago(1000 * D) }, now).compliance).toBe('paused');
    expect(compliance({ ...base, cadence: { cron: '0 0 L * *', paused: false }, intervalMs: undefined }, now).compliance).toBe('unknown');
  });
});

describe('ages', () => {
  const versions = {
    '1': { created_time: '2025-01-01T00:00:00Z' },
    '2': { created_time: '2025-06-01T00:00:00Z' },
    '3': { created_time: '2025-06-02T00:00:00Z' },
  };

  it('the current version, or the version a rollback restored', () => {
    expect(credentialSince({ current_version: 2, custom_metadata: null, versions })).toEqual({
      versionCreatedAt: '2025-06-01T00:00:00Z',
      credentialSince: '2025-06-01T00:00:00Z',
    });
    const restored = { rotor_restored_version: '3', rotor_restored_from_version: '1' };
    expect(credentialSince({ current_version: 3, custom_metadata: restored, versions })).toEqual({
      versionCreatedAt: '2025-06-02T00:00:00Z',
      credentialSince: '2025-01-01T00:00:00Z',
    });
    // A later promotion leaves the old stamp behind: it no longer describes the current version.
    expect(
      credentialSince({ current_version: 4, custom_metadata: restored, versions: { ...versions, '4': { created_time: 'x' } } })
        .credentialSince,
    ).toBe('x');
  });

  it('formats to the largest unit', () => {
    expect([formatAge(null), formatAge(42), formatAge(720), formatAge(5 * 3600 + 59), formatAge(42 * 86_400 + 7)]).toEqual([
      '-',
      '42s',
      '12m',
      '5h',
      '42d',
    ]);
  });
});

describe('leases', () => {
  it('long-lived: no expiry, or a life beyond 24 h', () => {
    expect(isLongLived({ issueTime: '2025-06-01T00:00:00Z', expireTime: null })).toBe(true);
    expect(isLongLived({ issueTime: '2025-06-01T00:00:00Z', expireTime: '2025-06-01T01:00:00Z' })).toBe(false);
    expect(isLongLived({ issueTime: '2025-06-01T00:00:00Z', expireTime: '2025-06-03T00:00:00Z' })).toBe(true);
  });
});

const secret = (over: Partial<SecretDebt>): SecretDebt => ({
  id: 'x',
  path: 'apps/x',
  owner: 'team-a',
  currentVersion: 1,
  versionCreatedAt: ago(D),
  credentialSince: ago(D),
  ageSeconds: 86_400,
  lastRotation: null,
  lastSuccessAt: null,
  cadence: 'every 1h',
  intervalSeconds: 3600,
  compliance: 'ok',
  dueBy: null,
  consumers: [],
  failures30d: { count: 0, byOutcome: {}, last: null },
  ...over,
});

describe('owner scores and output', () => {
  const secrets = [
    secret({ id: 'pay-db', owner: 'team-payments', compliance: 'overdue', ageSeconds: 42 * 86_400 }),
    secret({
      id: 'pay-key',
      owner: 'team-payments',
      compliance: 'no cadence',
      cadence: null,
      consumers: [{ name: 'billing', mode: 'manual' }],
      failures30d: { count: 2, byOutcome: { rolled_back: 1, aborted: 1 }, last: null },
    }),
    secret({
      id: 'pay-api',
      owner: 'team-payments',
      compliance: 'paused',
      lastRotation: { at: ago(H), outcome: 'rotated', status: 'COMPLETED', workflowId: 'rotate/pay-api', runId: 'r', source: 'temporal' },
    }),
    secret({ id: 'web-db', owner: 'team-web', ageSeconds: null }),
  ];

  it('debt = 3·overdue + 2·without cadence + paused + failures; worst owner first', () => {
    const [payments, web] = ownerScores(secrets);
    expect(payments).toMatchObject({
      owner: 'team-payments',
      secrets: 3,
      overdue: 1,
      withoutCadence: 1,
      paused: 1,
      failures30d: 2,
      oldestAgeSeconds: 42 * 86_400,
      debt: 3 + 2 + 1 + 2,
    });
    expect(payments!.line).toBe('team-payments: debt 8 — 3 secrets, 1 overdue, 1 without cadence, 1 paused, 2 failures in 30d, oldest 42d');
    expect(web!.line).toBe('team-web: debt 0 — 1 secret, 0 overdue, 0 without cadence, 0 paused, 0 failures in 30d, oldest -');
  });

  const report: DebtReport = {
    generatedAt: now.toISOString(),
    kvMount: 'rotor',
    failureWindowDays: 30,
    secrets,
    unmanaged: [{ path: 'legacy/a|b', currentVersion: 2, createdAt: ago(3 * D), ageSeconds: 3 * 86_400, deleted: false }],
    leases: { visible: false, reason: 'not visible with your token' },
    owners: ownerScores(secrets),
  };

  it('the table lists every secret, the unmanaged paths, the lease note and one line per owner', () => {
    const text = formatTable(report);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^SECRET\s+OWNER\s+AGE\s+LAST ROTATION\s+CADENCE\s+COMPLIANCE\s+CONSUMERS\s+FAILURES 30D$/);
    expect(text).toMatch(/pay-key\s+team-payments\s+1d\s+never\s+-\s+no cadence\s+billing:manual\s+2 \(1 rolled_back, 1 aborted\)/);
    expect(text).toMatch(/pay-api .* rotated 2025-06-11 11:00/);
    expect(text).toContain('unmanaged under rotor/ (no inventory secret names them): 1\n  legacy/a|b  v2  age 3d');
    expect(text).toContain('long-lived leases: not visible with your token');
    expect(text).toContain('  team-payments: debt 8');
  });

  it('markdown renders tables with escaped cells', () => {
    const text = formatMarkdown(report);
    expect(text).toContain('| secret | owner | age | last rotation | cadence | compliance | consumers | failures 30d |\n| --- | --- |');
    expect(text).toContain('| pay-db | team-payments | 42d | never | every 1h | overdue | - | 0 |');
    expect(text).toContain('| legacy/a\\|b | 2 | 3d |');
    expect(text).toContain('## Long-lived leases\n\nnot visible with your token');
    expect(text).toContain('- team-web: debt 0');
  });
});

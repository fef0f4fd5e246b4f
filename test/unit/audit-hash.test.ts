import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { assertAuditable } from '../../activities/audit/append-audit.js';
import { AuditOutcome, canonicalAuditRow, GENESIS_HASH, hashEntry, type AuditHashInput } from '../../activities/audit/audit-entry.js';

const base: AuditHashInput = {
  eventKey: 'wf-1/stage/1',
  at: new Date('2025-03-04T05:06:07.089Z'),
  actor: 'worker:rotor',
  workflowId: 'rotate-db-app',
  runId: 'run-1',
  secretId: 'db/app',
  step: 'stage',
  outcome: AuditOutcome.SUCCEEDED,
  fromVersion: 3,
  toVersion: 4,
  detail: { path: 'rotor/pending/db/app', attempt: 1, emergency: false, note: null },
};

describe('hashEntry', () => {
  it('is sha256 hex over the canonical JSON array, and deterministic', () => {
    expect(GENESIS_HASH).toBe('0'.repeat(64));
    const canonical = canonicalAuditRow(GENESIS_HASH, base);
    expect(JSON.parse(canonical)).toEqual([
      GENESIS_HASH,
      'wf-1/stage/1',
      '2025-03-04T05:06:07.089Z',
      'worker:rotor',
      'rotate-db-app',
      'run-1',
      'db/app',
      'stage',
      'succeeded',
      3,
      4,
      { attempt: 1, emergency: false, note: null, path: 'rotor/pending/db/app' },
    ]);
    const hash = hashEntry(GENESIS_HASH, base);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).toBe(createHash('sha256').update(canonical).digest('hex'));
    expect(hashEntry(GENESIS_HASH, { ...base, at: new Date(base.at.getTime()), detail: { ...base.detail } })).toBe(hash);
  });

  it('changes when any field changes, including the previous hash', () => {
    const hash = hashEntry(GENESIS_HASH, base);
    const variants: AuditHashInput[] = [
      { ...base, eventKey: 'wf-1/stage/2' },
      { ...base, at: new Date(base.at.getTime() + 1) },
      { ...base, actor: 'operator:alice' },
      { ...base, workflowId: 'rotate-db-other' },
      { ...base, runId: 'run-2' },
      { ...base, secretId: 'db/other' },
      { ...base, step: 'promote' },
      { ...base, outcome: AuditOutcome.FAILED },
      { ...base, fromVersion: 2 },
      { ...base, toVersion: 5 },
      { ...base, detail: { ...base.detail, attempt: 2 } },
      { ...base, detail: { ...base.detail, extra: 'x' } },
      { ...base, detail: {} },
    ];
    const hashes = variants.map((v) => hashEntry(GENESIS_HASH, v));
    for (const h of hashes) expect(h).not.toBe(hash);
    expect(new Set(hashes).size).toBe(variants.length);
    expect(hashEntry('f'.repeat(64), base)).not.toBe(hash);
  });

  it('treats absent, undefined and null optional fields alike, and a missing detail as {}', () => {
    const minimal: AuditHashInput = { eventKey: 'k', at: base.at, actor: 'a', step: 's', outcome: 'started' };
    const nulls: AuditHashInput = {
      ...minimal,
      workflowId: null,
      runId: null,
      secretId: null,
      fromVersion: null,
      toVersion: null,
      detail: null,
    };
    const undefs: AuditHashInput = { ...minimal, workflowId: undefined, runId: undefined, detail: {} };
    expect(hashEntry(GENESIS_HASH, nulls)).toBe(hashEntry(GENESIS_HASH, minimal));
    expect(hashEntry(GENESIS_HASH, undefs)).toBe(hashEntry(GENESIS_HASH, minimal));
    // A version 0 is a value, not an absent one.
    expect(hashEntry(GENESIS_HASH, { ...minimal, fromVersion: 0 })).not.toBe(hashEntry(GENESIS_HASH, minimal));
  });

  it('does not depend on the order of detail keys (integer-like keys included)', () => {
    const a = hashEntry(GENESIS_HASH, { ...base, detail: { b: 1, a: 'x', '10': true, '9': null } });
    const b = hashEntry(GENESIS_HASH, { ...base, detail: { '9': null, a: 'x', '10': true, b: 1 } });
    expect(a).toBe(b);
    expect(canonicalAuditRow(GENESIS_HASH, { ...base, detail: { b: 1, a: 'x', '10': true, '9': null } })).toMatch(
      /\{"10":true,"9":null,"a":"x","b":1\}\]$/,
    );
  });
});

describe('assertAuditable', () => {
  const entry = { eventKey: 'k', actor: 'a', step: 's', outcome: AuditOutcome.STARTED };

  it('refuses detail keys that might hold a secret, naming the field but not the value', () => {
    for (const key of ['password', 'newPassword', 'client_secret', 'vaultToken', 'credentials', 'apiKey', 'KEY']) {
      expect(() => assertAuditable({ ...entry, detail: { [key]: 'hunter2' } })).toThrow(new RegExp(`"${key}"`));
      expect(() => assertAuditable({ ...entry, detail: { [key]: 'hunter2' } })).not.toThrow(/hunter2/);
    }
  });

  it('refuses values that are not flat scalars, and unknown outcomes', () => {
    expect(() => assertAuditable({ ...entry, detail: { nested: { a: 1 } as unknown as string } })).toThrow(/"nested"/);
    expect(() => assertAuditable({ ...entry, detail: { n: Number.NaN } })).toThrow(/"n"/);
    expect(() => assertAuditable({ ...entry, outcome: 'done' as AuditOutcome })).toThrow(/outcome/);
    expect(() => assertAuditable({ ...entry, fromVersion: 1.5 })).toThrow(/fromVersion/);
    expect(() =>
      assertAuditable({ ...entry, detail: { path: 'rotor/db/app', version: 3, keyId: 'x', ok: true, none: null } }),
    ).not.toThrow();
  });
});

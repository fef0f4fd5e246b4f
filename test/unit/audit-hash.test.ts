import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { assertAuditable } from '../../activities/audit/append-audit.js';
import { MalformedAnchorError, parseAnchor, type AuditAnchor } from '../../activities/audit/audit-anchor.js';
import { AuditOutcome, canonicalAuditRow, GENESIS_HASH, hashEntry, type AuditHashInput } from '../../activities/audit/audit-entry.js';
import { macInput } from '../../activities/audit/audit-key.js';
import { AuditChainCheck, type StoredAuditRow } from '../../activities/audit/verify-audit.js';

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

/** Rows as the verifier reads them, keyed with a local HMAC standing in for the transit key (the integration tests use Vault's). */
const KEY = 'unit-test-key';
const mac = (hash: string) =>
  `vault:v1:${createHmac('sha256', KEY)
    .update(Buffer.from(macInput(hash), 'base64'))
    .digest('base64')}`;
const localVerify = async (items: readonly { hash: string; mac: string }[]) => items.map((i) => i.mac === mac(i.hash));

function chain(n: number, keyedFrom = 1): StoredAuditRow[] {
  const rows: StoredAuditRow[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const row = { ...base, eventKey: `e${seq}`, at: new Date(base.at.getTime() + seq) };
    const hash = hashEntry(prev, row);
    rows.push({
      seq: String(seq),
      at: row.at.toISOString().replace('Z', '000'),
      event_key: row.eventKey,
      actor: row.actor,
      workflow_id: row.workflowId ?? null,
      run_id: row.runId ?? null,
      secret_id: row.secretId ?? null,
      step: row.step,
      outcome: row.outcome,
      from_version: row.fromVersion ?? null,
      to_version: row.toVersion ?? null,
      detail: JSON.stringify(row.detail),
      prev_hash: prev,
      hash,
      mac: seq >= keyedFrom ? mac(hash) : null,
    });
    prev = hash;
  }
  return rows;
}

async function check(rows: StoredAuditRow[], anchor?: AuditAnchor, pageSize = 2) {
  const walk = new AuditChainCheck(localVerify, anchor);
  for (let i = 0; i < rows.length; i += pageSize) {
    const failure = await walk.page(rows.slice(i, i + pageSize));
    if (failure) return failure;
  }
  return walk.finish();
}

const anchorOf = (row: StoredAuditRow): AuditAnchor => ({ seq: Number(row.seq), hash: row.hash, mac: row.mac, at: '2025-03-04T05:06:08Z' });

describe('macInput', () => {
  it('is the chain hash with a fixed prefix, base64 for transit', () => {
    const hash = 'a'.repeat(64);
    expect(Buffer.from(macInput(hash), 'base64').toString('utf8')).toBe(`rotor-audit-v1:${hash}`);
    expect(macInput('b'.repeat(64))).not.toBe(macInput(hash));
  });
});

describe('AuditChainCheck', () => {
  it('accepts an intact keyed chain, and legacy rows before the first keyed one', async () => {
    expect(await check(chain(5))).toMatchObject({ ok: true, rows: 5, legacyRows: 0, lastSeq: 5 });
    expect(await check(chain(5, 3))).toMatchObject({ ok: true, rows: 5, legacyRows: 2 });
    expect(await check([])).toMatchObject({ ok: true, rows: 0, lastHash: GENESIS_HASH });
  });

  it('reports a chain recomputed without the key as a MAC mismatch at the changed row', async () => {
    const rows = chain(5);
    const changed = { ...rows[2]!, actor: 'someone else' };
    const recomputed = [...rows.slice(0, 2), changed, ...rows.slice(3)];
    let prev = rows[1]!.hash;
    for (const [i, r] of recomputed.entries()) {
      if (i < 2) continue;
      const hash = hashEntry(prev, {
        eventKey: r.event_key,
        at: new Date(`${r.at.slice(0, 23)}Z`),
        actor: r.actor,
        workflowId: r.workflow_id,
        runId: r.run_id,
        secretId: r.secret_id,
        step: r.step,
        outcome: r.outcome,
        fromVersion: r.from_version,
        toVersion: r.to_version,
        detail: JSON.parse(r.detail) as AuditHashInput['detail'],
      });
      recomputed[i] = { ...r, prev_hash: prev, hash };
      prev = hash;
    }
    expect(await check(recomputed)).toMatchObject({ ok: false, problem: 'mac_mismatch', firstBadSeq: 3, rows: 2 });
  });

  it('reports the earliest problem whatever its kind, across pages', async () => {
    const rows = chain(6);
    rows[1] = { ...rows[1]!, mac: 'vault:v1:AAAA' };
    rows[4] = { ...rows[4]!, outcome: 'failed' };
    expect(await check(rows, undefined, 10)).toMatchObject({ ok: false, problem: 'mac_mismatch', firstBadSeq: 2 });
    const later = chain(6);
    later[4] = { ...later[4]!, outcome: 'failed' };
    later[5] = { ...later[5]!, mac: 'garbage' };
    expect(await check(later, undefined, 10)).toMatchObject({ ok: false, problem: 'hash_mismatch', firstBadSeq: 5, rows: 4 });
  });

  it('reports an unkeyed row after a keyed one', async () => {
    const rows = chain(4);
    rows[2] = { ...rows[2]!, mac: null };
    expect(await check(rows)).toMatchObject({ ok: false, problem: 'unkeyed_row', firstBadSeq: 3 });
  });

  it('checks the anchored row, and reports a log that ends before it as truncated', async () => {
    const rows = chain(6);
    expect(await check(rows, anchorOf(rows[3]!))).toMatchObject({ ok: true, anchor: { seq: 4 } });
    expect(await check(rows.slice(0, 3), anchorOf(rows[3]!))).toMatchObject({ ok: false, problem: 'truncated', firstBadSeq: 4, rows: 3 });
    expect(await check([], anchorOf(rows[0]!))).toMatchObject({ ok: false, problem: 'truncated', firstBadSeq: 1 });
    expect(await check(rows, { ...anchorOf(rows[3]!), hash: 'f'.repeat(64) })).toMatchObject({
      ok: false,
      problem: 'anchor_mismatch',
      firstBadSeq: 4,
    });
    // The anchored seq skipped (rows renumbered): the anchored row is missing.
    const renumbered = rows.map((r, i) => (i >= 3 ? { ...r, seq: String(i + 2) } : r));
    expect(await check(renumbered, anchorOf(rows[3]!))).toMatchObject({ ok: false, problem: 'anchor_mismatch', firstBadSeq: 5 });
  });
});

describe('parseAnchor', () => {
  it('accepts what a worker writes and names the field of anything else', () => {
    const good = { seq: 7, hash: 'a'.repeat(64), mac: 'vault:v1:AAAA', at: '2025-01-01T00:00:00Z', database: '127.0.0.1:5432/rotor' };
    expect(parseAnchor(good)).toEqual(good);
    expect(parseAnchor({ ...good, mac: null, database: undefined })).toEqual({ seq: 7, hash: good.hash, mac: null, at: good.at });
    expect(() => parseAnchor({ ...good, seq: '7' })).toThrow(MalformedAnchorError);
    expect(() => parseAnchor({ ...good, hash: 'nope' })).toThrow(/"hash"/);
  });
});

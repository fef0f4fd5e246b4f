import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../config/load-inventory.js';
import { phaseLimitMs, phaseSince, STUCK_MARGIN_MS, type RunRow } from '../../observe/phase-limits.js';
import { Phase } from '../../workflows/rotation-types.js';

const spec = parseInventory(
  `secrets:
  - id: billing-db
    path: apps/billing-db
    owner: team-billing
    provider: { type: postgres, adminPath: _rotor/admin/pg, users: [billing_a, billing_b], database: demo }
    overlap: 10m
    consumers:
      - name: api
        confirm: { mode: health, url: http://127.0.0.1:9101/health, timeout: 2m }
      - name: ops
        confirm: { mode: manual, timeout: 1h }
`,
  'inventory.yaml',
).secrets[0]!;

const at = (minute: number) => new Date(Date.UTC(2026, 10, 30, 12, minute));
const started = at(0);
const rows: RunRow[] = [
  { step: 'rotation_started', outcome: 'started', at: at(1) },
  { step: 'precheck', outcome: 'succeeded', at: at(2) },
  { step: 'stage', outcome: 'succeeded', at: at(3) },
  { step: 'apply', outcome: 'failed', at: at(4) },
  { step: 'apply', outcome: 'succeeded', at: at(5) },
  { step: 'test', outcome: 'succeeded', at: at(6) },
  { step: 'promote', outcome: 'succeeded', at: at(7) },
  { step: 'confirmation', outcome: 'succeeded', at: at(9) },
  { step: 'confirmation', outcome: 'succeeded', at: at(11) },
  { step: 'post_validate', outcome: 'succeeded', at: at(12) },
];

describe('when the phase of a rotation began, from its audit rows', () => {
  it('is the end of the step before it; a failed attempt does not end a step', () => {
    expect(phaseSince(Phase.PRECHECKS, rows, started, spec)).toEqual(at(1));
    expect(phaseSince(Phase.STAGING, rows, started, spec)).toEqual(at(2));
    expect(phaseSince(Phase.APPLYING, rows, started, spec)).toEqual(at(3));
    expect(phaseSince(Phase.TESTING, rows, started, spec)).toEqual(at(5));
    expect(phaseSince(Phase.PROMOTING, rows, started, spec)).toEqual(at(6));
    expect(phaseSince(Phase.AWAITING_CONFIRMATION, rows, started, spec)).toEqual(at(7));
    expect(phaseSince(Phase.POST_VALIDATION, rows, started, spec)).toEqual(at(11));
    expect(phaseSince(Phase.OVERLAP, rows, started, spec)).toEqual(at(12));
  });

  it('starts revocation when the overlap timer ends, which writes no row', () => {
    expect(phaseSince(Phase.REVOKING, rows, started, spec)).toEqual(at(22));
  });

  it('falls back to the latest row, then to the workflow start, when no row tells', () => {
    expect(phaseSince(Phase.ROLLING_BACK, rows, started, spec)).toEqual(at(12));
    expect(phaseSince(Phase.STAGING, [], started, spec)).toEqual(started);
  });
});

describe('how long a phase may last before the rotation is stuck', () => {
  it('is the slowest confirmation timeout of its consumers while awaiting confirmation, and the overlap in the overlap', () => {
    expect(phaseLimitMs(Phase.AWAITING_CONFIRMATION, spec)).toBe(3_600_000 + STUCK_MARGIN_MS);
    expect(phaseLimitMs(Phase.OVERLAP, spec)).toBe(600_000 + STUCK_MARGIN_MS);
  });

  it('is the retry budget of the activity steps, and unbounded when done or the secret left the inventory', () => {
    expect(phaseLimitMs(Phase.STAGING, spec)).toBe(5 * 60_000);
    expect(phaseLimitMs(Phase.REVOKING, spec)).toBe(20 * 60_000);
    expect(phaseLimitMs(Phase.DONE, spec)).toBeNull();
    expect(phaseLimitMs(Phase.AWAITING_CONFIRMATION, undefined)).toBeNull();
  });
});

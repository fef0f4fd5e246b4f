import { describe, expect, it } from 'vitest';
import { phaseDurations } from './phase-durations.js';
import type { RunRow } from '../observe/phase-limits.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const row = (step: string, atSeconds: number, outcome = 'succeeded'): RunRow => ({
  step,
  outcome,
  at: new Date(T0 + atSeconds * 1000),
});

describe('phaseDurations', () => {
  it('measures each phase of a rotated run from the row ending the phase before it, splitting overlap from revoking', () => {
    const rows = [
      row('rotation_started', 0, 'started'),
      row('precheck', 2),
      row('stage', 3),
      row('apply', 5),
      row('test', 6),
      row('promote', 7),
      row('confirmation', 9),
      row('confirmation', 12),
      row('post_validate', 13),
      row('revoke', 75),
      row('rotation_finished', 76),
    ];
    expect(phaseDurations(rows, 60_000)).toEqual([
      { phase: 'prechecks', seconds: 2 },
      { phase: 'staging', seconds: 1 },
      { phase: 'applying', seconds: 2 },
      { phase: 'testing', seconds: 1 },
      { phase: 'promoting', seconds: 1 },
      { phase: 'awaiting_confirmation', seconds: 5 },
      { phase: 'post_validation', seconds: 1 },
      { phase: 'overlap', seconds: 60 },
      { phase: 'revoking', seconds: 2 },
    ]);
  });

  it("ends a retried step at its last attempt, and leaves out phases whose start is not on record (a rollback's)", () => {
    const rows = [
      row('rotation_started', 0, 'started'),
      row('precheck', 1),
      row('stage', 2),
      row('apply', 3, 'failed'),
      row('apply', 8),
      row('test', 9),
      row('promote', 10),
      // Confirmation timed out: no confirmation row, no post-validation; rolled back.
      row('rollback', 40),
      row('rotation_finished', 41, 'failed'),
    ];
    const phases = phaseDurations(rows, 60_000);
    expect(phases).toContainEqual({ phase: 'applying', seconds: 6 });
    expect(phases.map((p) => p.phase)).toEqual(['prechecks', 'staging', 'applying', 'testing', 'promoting']);
  });

  it('gives no consumer wait when none had to confirm, and never a negative duration across skewed worker clocks', () => {
    const rows = [row('rotation_started', 10, 'started'), row('precheck', 9), row('promote', 20), row('post_validate', 21)];
    expect(phaseDurations(rows)).toEqual([
      { phase: 'prechecks', seconds: 0 },
      { phase: 'awaiting_confirmation', seconds: 0 },
      { phase: 'post_validation', seconds: 1 },
    ]);
  });

  it('measures nothing for rows without the run start', () => {
    expect(phaseDurations([row('precheck', 1), row('stage', 2)])).toEqual([]);
  });
});

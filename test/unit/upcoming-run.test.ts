import { describe, expect, it } from 'vitest';
import { upcomingRun } from '../../cli/commands/status.js';

describe('upcomingRun', () => {
  const now = Date.parse('2026-11-23T18:00:00Z');
  const at = (iso: string) => new Date(iso);

  it('skips action times a paused schedule computed before its pause', () => {
    expect(upcomingRun([at('2026-11-23T15:00:00Z'), at('2026-11-24T15:00:00Z')], now)).toBe('2026-11-24T15:00:00.000Z');
  });

  it('is null when every action time has passed or there are none', () => {
    expect(upcomingRun([at('2026-11-23T15:00:00Z')], now)).toBeNull();
    expect(upcomingRun([], now)).toBeNull();
  });
});

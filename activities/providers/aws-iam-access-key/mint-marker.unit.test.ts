import { describe, expect, it } from 'vitest';
import { CLOCK_SKEW_MS, formatMarker, isStaleMarker, mayBeLeftover, MINT_WINDOW_MS, parseMarker } from './mint-marker.js';

const T0 = Date.parse('2025-03-01T02:00:00.000Z');
const key = (id: string, createdAt: number, status = 'Active') => ({ AccessKeyId: id, Status: status, CreateDate: new Date(createdAt) });

describe("rotor's mint marker", () => {
  it('records the time and the keys the user had, in a value IAM accepts as a tag value', () => {
    const value = formatMarker({ at: T0, keysBefore: ['AKIAAAAAAAAAAAAAAAAA', 'AKIABBBBBBBBBBBBBBBB'] });
    expect(value).toBe('v2 2025-03-01T02:00:00.000Z AKIAAAAAAAAAAAAAAAAA AKIABBBBBBBBBBBBBBBB');
    // IAM: at most 256 of letters, digits, white space and _.:/=+-@
    expect(value).toMatch(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u);
    expect(parseMarker(value)).toEqual({ at: T0, keysBefore: ['AKIAAAAAAAAAAAAAAAAA', 'AKIABBBBBBBBBBBBBBBB'] });
    expect(parseMarker(formatMarker({ at: T0, keysBefore: [] }))).toEqual({ at: T0, keysBefore: [] });
  });

  it("the first release's marker (a bare time) and garbage recognise nothing and count as stale", () => {
    for (const value of ['2025-03-01T02:00:00.000Z', 'v2', 'v2 yesterday AKIA', '', undefined]) {
      expect(parseMarker(value)).toBeUndefined();
      expect(mayBeLeftover(key('AKIAXXXXXXXXXXXXXXXX', T0 + 1000), parseMarker(value))).toBe(false);
      expect(isStaleMarker(parseMarker(value), T0)).toBe(true);
    }
  });

  it("review scenario: an operator's key made 5 minutes after a crashed mint's marker is not rotor's leftover", () => {
    const marker = { at: T0, keysBefore: ['AKIAOLDOLDOLDOLDOLDO'] };
    // The first release counted anything Active and unused created within 10 minutes of the marker.
    expect(mayBeLeftover(key('AKIAOPSOPSOPSOPSOPSO', T0 + 5 * 60_000), marker)).toBe(false);
    expect(mayBeLeftover(key('AKIAOPSOPSOPSOPSOPSO', T0 + MINT_WINDOW_MS + CLOCK_SKEW_MS + 1000), marker)).toBe(false);
  });

  it('a key the marker lists as already there is never a leftover, however close to the marker it was made', () => {
    const marker = { at: T0, keysBefore: ['AKIAPREPREPREPREPREP'] };
    expect(mayBeLeftover(key('AKIAPREPREPREPREPREP', T0), marker)).toBe(false);
    expect(mayBeLeftover(key('AKIANEWNEWNEWNEWNEWN', T0), marker)).toBe(true);
  });

  it("a leftover is Active and made within the window after the marker, IAM's clock allowed to differ either way", () => {
    const marker = { at: T0, keysBefore: [] };
    expect(mayBeLeftover(key('AKIANEWNEWNEWNEWNEWN', T0 + MINT_WINDOW_MS), marker)).toBe(true);
    expect(mayBeLeftover(key('AKIANEWNEWNEWNEWNEWN', T0 + MINT_WINDOW_MS + CLOCK_SKEW_MS), marker)).toBe(true);
    expect(mayBeLeftover(key('AKIANEWNEWNEWNEWNEWN', T0 - CLOCK_SKEW_MS), marker)).toBe(true);
    expect(mayBeLeftover(key('AKIANEWNEWNEWNEWNEWN', T0 - CLOCK_SKEW_MS - 1000), marker)).toBe(false);
    expect(mayBeLeftover(key('AKIANEWNEWNEWNEWNEWN', T0 + 1000, 'Inactive'), marker)).toBe(false);
    expect(mayBeLeftover({ AccessKeyId: 'AKIANEWNEWNEWNEWNEWN', Status: 'Active' }, marker)).toBe(false);
  });

  it('is stale once further than the window plus the skew from now, in either direction', () => {
    const marker = { at: T0, keysBefore: [] };
    expect(isStaleMarker(marker, T0 + MINT_WINDOW_MS + CLOCK_SKEW_MS)).toBe(false);
    expect(isStaleMarker(marker, T0 + MINT_WINDOW_MS + CLOCK_SKEW_MS + 1)).toBe(true);
    expect(isStaleMarker(marker, T0 - MINT_WINDOW_MS - CLOCK_SKEW_MS - 1)).toBe(true);
    expect(isStaleMarker(marker, T0 + 1000)).toBe(false);
  });
});

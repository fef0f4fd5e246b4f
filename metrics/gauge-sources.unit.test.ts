import { describe, expect, it } from 'vitest';
import { withDeadline } from './gauge-sources.js';

describe('withDeadline', () => {
  it('answers with the work when it ends in time', async () => {
    await expect(withDeadline(Promise.resolve(42), 1_000, 'reading vault')).resolves.toBe(42);
  });

  it('gives up on work that outlasts the deadline, naming what was slow, without waiting for it', async () => {
    const started = Date.now();
    const hung = new Promise<never>(() => undefined);
    await expect(withDeadline(hung, 50, 'reading vault')).rejects.toThrow('reading vault took longer than 50 ms');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("passes the work's own failure on", async () => {
    await expect(withDeadline(Promise.reject(new Error('sealed')), 1_000, 'reading vault')).rejects.toThrow('sealed');
  });
});

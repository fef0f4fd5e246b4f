import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The X-Rotor-Signature header of a generic webhook body: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
 * "<t>.<body>">`. The timestamp is signed too, so a receiver can refuse an old body replayed.
 */
export function signatureHeader(key: string, body: string, now: Date): string {
  const t = Math.floor(now.getTime() / 1000);
  const mac = createHmac('sha256', key).update(`${t}.${body}`, 'utf8').digest('hex');
  return `t=${t},v1=${mac}`;
}

/** A receiver's check (also what the tests use): true when `header` signs `body` with `key`. */
export function verifySignature(key: string, body: string, header: string): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const expected = createHmac('sha256', key).update(`${m[1]}.${body}`, 'utf8').digest();
  // Constant time, as a receiver should compare: the header's form is checked above, so the lengths match.
  return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'));
}

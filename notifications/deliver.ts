import type { NotificationTarget } from '../config/inventory-schema.js';
import type { NotificationEvent } from './notification-event.js';
import { assertBodyFree, assertSafeEvent } from './payload-guard.js';
import { slackBody, webhookBody, type LinkOptions } from './payloads.js';
import { signatureHeader } from './signature.js';
import type { ResolvedTarget } from './target-secrets.js';

/** How one attempt ended. `error` texts name the target and what failed, never its URL (a Slack URL is a credential). */
export type AttemptOutcome =
  | { kind: 'delivered'; status: number }
  /** Worth trying again later: no answer, a timeout, 5xx, 408, 425, 429. */
  | { kind: 'retryable'; error: string }
  /** The receiver refused this body (another 4xx) or rotor refused to send it: sending it again changes nothing. */
  | { kind: 'rejected'; error: string };

/** Longer than this and the attempt counts as failed; well inside the claim's lease (outbox-store.ts). */
export const ATTEMPT_TIMEOUT_MS = 10_000;

export interface Attempt {
  deliveryId: string;
  targetName: string;
  target: NotificationTarget;
  resolved: ResolvedTarget;
  event: NotificationEvent;
  attempt: number;
  link: LinkOptions;
}

/** The request an attempt sends: body by target type, the same bytes on every retry but the signature's timestamp. */
export function requestOf(a: Attempt, now = new Date()): { body: string; headers: Record<string, string> } {
  assertSafeEvent(a.event);
  const body = JSON.stringify(
    a.target.type === 'slack' ? slackBody(a.event, a.deliveryId, a.link) : webhookBody(a.event, a.deliveryId, a.link),
  );
  assertBodyFree(body, [a.resolved.url, ...(a.resolved.signingKey ? [a.resolved.signingKey] : [])]);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'rotor-notifications',
    // Receivers deduplicate retries with it (an attempt whose answer was lost is sent again).
    'idempotency-key': a.deliveryId,
    'x-rotor-event': a.event.kind,
    'x-rotor-attempt': String(a.attempt),
  };
  if (a.resolved.signingKey) headers['x-rotor-signature'] = signatureHeader(a.resolved.signingKey, body, now);
  return { body, headers };
}

const RETRYABLE_4XX = new Set([408, 425, 429]);

/** The network failure's code only (ECONNREFUSED, ENOTFOUND…): fetch's own messages may quote the URL. */
function networkCause(err: unknown): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))
    return `no answer within ${ATTEMPT_TIMEOUT_MS / 1000}s`;
  const code = (err as { cause?: { code?: unknown } }).cause?.code;
  return typeof code === 'string' && /^[A-Z_]+$/.test(code) ? `connection failed (${code})` : 'connection failed';
}

/** One POST. Never throws: every ending is an {@link AttemptOutcome}. */
export async function attemptDelivery(a: Attempt): Promise<AttemptOutcome> {
  let request: { body: string; headers: Record<string, string> };
  try {
    request = requestOf(a);
  } catch (err) {
    return { kind: 'rejected', error: (err as Error).message };
  }
  try {
    const response = await fetch(a.resolved.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      redirect: 'manual', // a redirect could carry the body somewhere the inventory does not name
      signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
    });
    // The body is not read into anything: a receiver's page may echo what it was sent.
    await response.body?.cancel().catch(() => undefined);
    if (response.status >= 200 && response.status < 300) return { kind: 'delivered', status: response.status };
    const error = `target ${a.targetName} answered ${response.status}`;
    if (response.status >= 500 || RETRYABLE_4XX.has(response.status)) return { kind: 'retryable', error };
    return { kind: 'rejected', error };
  } catch (err) {
    return { kind: 'retryable', error: `target ${a.targetName}: ${networkCause(err)}` };
  }
}

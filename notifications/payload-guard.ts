import type { NotificationEvent } from './notification-event.js';

/** An outgoing body was refused: it could carry something that is not a reference. Names the field, never its value. */
export class UnsafePayloadError extends Error {
  constructor(
    readonly field: string,
    why: string,
  ) {
    super(`notification payload refused at "${field}": ${why}`);
    this.name = 'UnsafePayloadError';
  }
}

/**
 * Every field an event may have (notification-event.ts). A closed list rather than a pattern: a
 * change that copied an audit row's whole detail, or a credential, into an event fails here and in
 * the unit tests instead of reaching a receiver.
 */
const EVENT_FIELDS: ReadonlySet<string> = new Set([
  'id',
  'kind',
  'secretId',
  'workflowId',
  'runId',
  'at',
  'versions',
  'from',
  'to',
  'outcome',
  'reason',
  'phase',
  'phaseSince',
  'limitMs',
  'consumers',
  'requestId',
  'policyId',
  'requester',
  'justification',
  'ttlSeconds',
  'approvals',
  'required',
  'incidentId',
  'scope',
  'startedBy',
]);

/** Longer than any reference or bounded reason (audit-events.ts caps free text at 500). */
const MAX_STRING = 1_000;

function walk(value: unknown, field: string): void {
  if (value === null || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new UnsafePayloadError(field, 'not a finite number');
    return;
  }
  if (typeof value === 'string') {
    if (value.length > MAX_STRING) throw new UnsafePayloadError(field, `longer than ${MAX_STRING} characters`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => walk(v, `${field}[${i}]`));
    return;
  }
  if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const path = field ? `${field}.${k}` : k;
      if (!EVENT_FIELDS.has(k)) throw new UnsafePayloadError(path, 'not a field a notification carries (references only)');
      walk(v, path);
    }
    return;
  }
  throw new UnsafePayloadError(field, `a ${typeof value} is not a reference`);
}

/** Throws UnsafePayloadError unless `event` holds only the known reference fields. */
export function assertSafeEvent(event: NotificationEvent): void {
  walk(event, '');
}

/**
 * The final check on a serialised body: it must not contain any of `credentials` (the target's own
 * URL and signing key, which the worker holds while sending, or any other value it knows to be
 * secret). Fragments shorter than 8 characters are not compared (they would match by chance).
 */
export function assertBodyFree(body: string, credentials: readonly string[]): void {
  for (const c of credentials) {
    if (c.length >= 8 && body.includes(c)) throw new UnsafePayloadError('(body)', 'contains a credential the worker holds');
  }
}

/**
 * What rotor tells people about: the moments a person should look, never routine progress. A
 * const object with a same-named type, so the inventory schema, the mapping and the payloads
 * share one list.
 */
export const NotificationKind = {
  /** A rotation failed after promotion and the previous version is current again. */
  ROLLBACK: 'rollback',
  /** A rotation ended without rotating and without a rollback (aborted, revocation failed). */
  FAILURE: 'failure',
  /** A rotation has been in one phase longer than that phase's limit. */
  STUCK: 'stuck',
  /** A new version is current and consumers that confirm manually must now confirm it. */
  MANUAL_CONFIRMATION_NEEDED: 'manual_confirmation_needed',
  BREAK_GLASS_REQUESTED: 'break_glass_requested',
  /** The request has every approval it needs. */
  BREAK_GLASS_APPROVED: 'break_glass_approved',
  /** Nobody decided in time: the request ended without a grant. */
  BREAK_GLASS_EXPIRED: 'break_glass_expired',
  /** Incident response began: a freeze is in force. */
  INCIDENT_STARTED: 'incident_started',
} as const;
export type NotificationKind = (typeof NotificationKind)[keyof typeof NotificationKind];

export const NOTIFICATION_KINDS: readonly NotificationKind[] = Object.values(NotificationKind);

import type { NotificationEvent } from './notification-event.js';
import { NotificationKind } from './notification-kind.js';

/** Where a person can look: the workflow in the Temporal Web UI, when notifications.temporalUiUrl is set. */
export interface LinkOptions {
  temporalUiUrl?: string;
  namespace: string;
}

export function workflowUiUrl(event: NotificationEvent, { temporalUiUrl, namespace }: LinkOptions): string | undefined {
  if (!temporalUiUrl || !event.workflowId) return undefined;
  const base = temporalUiUrl.replace(/\/+$/, '');
  const run = event.runId ? `/${encodeURIComponent(event.runId)}` : '';
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(event.workflowId)}${run}/history`;
}

/** The generic webhook's JSON: the common fields at the top, the kind's own fields under `detail`. */
export interface WebhookBody {
  event: NotificationEvent['kind'];
  /** Also sent as the Idempotency-Key header: the same for every retry of this delivery. */
  deliveryId: string;
  secretId: string | null;
  workflowId: string | null;
  runId: string | null;
  phase?: string;
  outcome?: string;
  reason?: string | null;
  versions: { from?: number; to?: number };
  at: string;
  uiUrl?: string;
  detail: Record<string, unknown>;
}

const COMMON = new Set(['id', 'kind', 'secretId', 'workflowId', 'runId', 'at', 'versions', 'phase', 'outcome', 'reason']);

export function webhookBody(event: NotificationEvent, deliveryId: string, link: LinkOptions): WebhookBody {
  const uiUrl = workflowUiUrl(event, link);
  const detail = Object.fromEntries(Object.entries(event).filter(([k]) => !COMMON.has(k)));
  return {
    event: event.kind,
    deliveryId,
    secretId: event.secretId,
    workflowId: event.workflowId,
    runId: event.runId,
    ...('phase' in event ? { phase: event.phase } : {}),
    ...('outcome' in event ? { outcome: event.outcome } : {}),
    ...('reason' in event ? { reason: event.reason } : {}),
    versions: event.versions,
    at: event.at,
    ...(uiUrl ? { uiUrl } : {}),
    detail,
  };
}

/** Slack's mrkdwn treats these as markup; text from audit rows (reasons) must not become links or mentions. */
const escapeMrkdwn = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One line a person reads first: what happened to what. */
export function headline(event: NotificationEvent): string {
  const secret = event.secretId ?? 'rotor';
  switch (event.kind) {
    case NotificationKind.ROLLBACK:
      return `Rotation of ${secret} rolled back: version ${event.versions.to ?? '?'} restores version ${event.versions.from ?? '?'}`;
    case NotificationKind.FAILURE:
      return `Rotation of ${secret} failed (${event.outcome})`;
    case NotificationKind.STUCK:
      return `Rotation of ${secret} is stuck in ${event.phase} since ${event.phaseSince}`;
    case NotificationKind.MANUAL_CONFIRMATION_NEEDED:
      return `${secret}: version ${event.versions.to ?? '?'} is current; ${event.consumers.join(', ')} must confirm (rotor confirm ${secret} <consumer>)`;
    case NotificationKind.BREAK_GLASS_REQUESTED:
      return `Break-glass access to ${secret} requested by ${event.requester} under ${event.policyId}`;
    case NotificationKind.BREAK_GLASS_APPROVED:
      return `Break-glass request ${event.requestId} for ${secret} approved (${event.approvals}/${event.required})`;
    case NotificationKind.BREAK_GLASS_EXPIRED:
      return `Break-glass request ${event.requestId} for ${secret} expired without a decision`;
    case NotificationKind.INCIDENT_STARTED:
      return `Incident ${event.incidentId} started by ${event.startedBy}: rotations frozen (${event.scope})`;
  }
}

/** A Slack incoming-webhook body: `text` for notifications and clients without blocks, blocks for the rest. */
export interface SlackBody {
  text: string;
  blocks: (
    | { type: 'section'; text: { type: 'mrkdwn'; text: string } }
    | { type: 'context'; elements: { type: 'mrkdwn'; text: string }[] }
  )[];
}

export function slackBody(event: NotificationEvent, deliveryId: string, link: LinkOptions): SlackBody {
  const title = escapeMrkdwn(headline(event));
  const reason = 'reason' in event && event.reason ? `\n>${escapeMrkdwn(event.reason)}` : '';
  const justification =
    event.kind === NotificationKind.BREAK_GLASS_REQUESTED && event.justification ? `\n>${escapeMrkdwn(event.justification)}` : '';
  const uiUrl = workflowUiUrl(event, link);
  const context = [event.workflowId ? `workflow \`${escapeMrkdwn(event.workflowId)}\`` : undefined, event.at, `delivery ${deliveryId}`]
    .filter((x): x is string => x !== undefined)
    .join(' · ');
  return {
    // Slack reads mrkdwn in the fallback text too: escaped like the blocks.
    text: title,
    blocks: [
      {
        type: 'section',
        text: { type: 'mrkdwn', text: `*${title}*${reason}${justification}${uiUrl ? `\n<${uiUrl}|Open in Temporal>` : ''}` },
      },
      { type: 'context', elements: [{ type: 'mrkdwn', text: context }] },
    ],
  };
}

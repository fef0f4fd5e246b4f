import type { Inventory } from '../config/inventory-schema.js';
import type { NotificationEvent } from './notification-event.js';
import { NotificationKind } from './notification-kind.js';

/**
 * The targets an event goes to, by name, sorted: the secret's own `notify` list when it has one
 * (`[]` opts out), else `notifications.default`; an incident goes to the default targets and to
 * every target a secret in its scope names. A target with an `events` filter gets only those kinds.
 */
export function targetsOf(event: NotificationEvent, inventory: Pick<Inventory, 'secrets' | 'notifications'>): string[] {
  const { targets, default: defaults } = inventory.notifications;
  const names = new Set<string>();
  const add = (list: readonly string[]) => list.forEach((n) => names.add(n));
  if (event.kind === NotificationKind.INCIDENT_STARTED) {
    add(defaults);
    const scope = event.scope === 'everything' ? undefined : new Set(event.scope.split(','));
    for (const s of inventory.secrets) if (!scope || scope.has(s.id)) add(s.notify ?? []);
  } else {
    const secret = inventory.secrets.find((s) => s.id === event.secretId);
    if (!secret) return [];
    add(secret.notify ?? defaults);
  }
  return [...names]
    .filter((n) => {
      const t = targets[n];
      return t !== undefined && (t.events === undefined || t.events.includes(event.kind));
    })
    .sort();
}

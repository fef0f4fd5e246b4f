import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ConsumerSpec } from '../../config/inventory-schema.js';
import type { RotationRef } from '../../workflows/rotation-types.js';
import type { ActivityContext } from '../activity-context.js';
import { audited } from '../audit/audited.js';
import { withSecret } from './secret-handle.js';
import { FailureType } from '../../workflows/failure-types.js';

export type NotifyPurpose = 'cutover' | 'rollback';

/** Polls `probe` every `everyMs`, heartbeating, until it returns true or the activity is cancelled/timed out. */
async function pollUntil(probe: () => Promise<boolean>, describe: () => string, everyMs = 250): Promise<void> {
  for (;;) {
    if (await probe().catch(() => false)) return;
    Context.current().heartbeat(describe());
    await sleep(everyMs, undefined, { signal: Context.current().cancellationSignal });
  }
}

async function consumerSpec(ctx: ActivityContext, secretId: string, name: string): Promise<ConsumerSpec> {
  const spec = await ctx.inventory.secret(secretId);
  const consumer = spec.consumers.find((c) => c.name === name);
  if (!consumer) throw ApplicationFailure.nonRetryable(`secret "${secretId}" has no consumer "${name}"`, FailureType.UnknownConsumer);
  return consumer;
}

async function reportedVersion(url: string): Promise<number | undefined> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) return undefined;
  const body = (await response.json().catch(() => ({}))) as { version?: unknown };
  return typeof body.version === 'number' ? body.version : undefined;
}

export function consumerCutoverActivities(ctx: ActivityContext) {
  const mount = ctx.env.ROTOR_VAULT_KV_MOUNT;
  return {
    /**
     * Tells a webhook consumer which version to load: a reference (mount, path, version), never
     * the value. A 2xx answer reporting that version is its confirmation.
     */
    async notifyConsumer(
      ref: RotationRef & { consumer: string; version: number; purpose: NotifyPurpose },
    ): Promise<{ confirmedVersion: number }> {
      return audited(
        ctx,
        { step: `notify_${ref.purpose}:${ref.consumer}`, secretId: ref.secretId, actor: ref.actor, toVersion: ref.version },
        async () => {
          const consumer = await consumerSpec(ctx, ref.secretId, ref.consumer);
          if (consumer.confirm.mode !== 'webhook')
            throw ApplicationFailure.nonRetryable(`consumer "${ref.consumer}" is not a webhook consumer`, FailureType.WrongConfirmMode);
          const spec = await ctx.inventory.secret(ref.secretId);
          let response: Response;
          try {
            response = await fetch(consumer.confirm.url, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({
                secretId: ref.secretId,
                mount,
                path: spec.path,
                version: ref.version,
                purpose: ref.purpose,
                rotationId: ref.rotationId,
              }),
              signal: AbortSignal.timeout(15_000),
            });
          } catch (err) {
            throw ApplicationFailure.retryable(
              `consumer "${ref.consumer}" webhook unreachable: ${(err as Error).message}`,
              FailureType.ConsumerUnreachable,
            );
          }
          const body = (await response.json().catch(() => ({}))) as { version?: unknown; error?: unknown };
          if (!response.ok || body.version !== ref.version) {
            throw ApplicationFailure.retryable(
              `consumer "${ref.consumer}" did not confirm version ${ref.version} (HTTP ${response.status}${typeof body.error === 'string' ? `: ${body.error.slice(0, 200)}` : ''})`,
              FailureType.ConsumerNotConfirmed,
            );
          }
          return { confirmedVersion: ref.version };
        },
        (r) => ({ toVersion: r.confirmedVersion }),
      );
    },

    /** Waits until the consumer's health endpoint reports `version` (bounded by the activity's timeout). */
    async awaitHealthVersion(ref: RotationRef & { consumer: string; version: number }): Promise<{ confirmedVersion: number }> {
      return audited(
        ctx,
        { step: `await_version:${ref.consumer}`, secretId: ref.secretId, actor: ref.actor, toVersion: ref.version },
        async () => {
          const consumer = await consumerSpec(ctx, ref.secretId, ref.consumer);
          if (consumer.confirm.mode !== 'health')
            throw ApplicationFailure.nonRetryable(`consumer "${ref.consumer}" is not a health consumer`, FailureType.WrongConfirmMode);
          const url = consumer.confirm.url;
          let last: number | undefined;
          await pollUntil(
            async () => (last = await reportedVersion(url)) === ref.version,
            () => `${ref.consumer} reports version ${last ?? 'none'}, waiting for ${ref.version}`,
          );
          return { confirmedVersion: ref.version };
        },
      );
    },

    /**
     * Observed cutover (pg-sessions, sessions): a session of the new version's role has been seen since this
     * wait began (after promotion) and no session of the old one remains. Both alone prove
     * nothing: an idle pool has no session of either.
     */
    async awaitSessionsDrained(
      ref: RotationRef & { consumer: string; oldVersion: number; newVersion: number },
    ): Promise<{ confirmedVersion: number }> {
      return audited(
        ctx,
        {
          step: `await_sessions_drained:${ref.consumer}`,
          secretId: ref.secretId,
          actor: ref.actor,
          fromVersion: ref.oldVersion,
          toVersion: ref.newVersion,
        },
        () =>
          withSecret(ctx, ref.secretId, async (secret) => {
            const activeSessions = secret.provider.activeSessions;
            if (!activeSessions)
              throw ApplicationFailure.nonRetryable('this provider cannot observe sessions', FailureType.WrongConfirmMode);
            const consumer = await consumerSpec(ctx, ref.secretId, ref.consumer);
            const { confirm } = consumer;
            const clientName =
              confirm.mode === 'pg-sessions' ? confirm.applicationName : confirm.mode === 'sessions' ? confirm.clientName : undefined;
            const filter = clientName === undefined ? {} : { clientName };
            const old = (await secret.read(ref.oldVersion)).data;
            const next = (await secret.read(ref.newVersion)).data;
            let remaining = -1;
            let seenNew = false;
            await pollUntil(
              async () => {
                seenNew ||= (await activeSessions(next, filter)) > 0;
                remaining = await activeSessions(old, filter);
                return seenNew && remaining === 0;
              },
              () =>
                seenNew
                  ? `${remaining} session(s) of the old credential remain`
                  : `no session of the new credential seen yet${clientName ? ` (client name ${clientName})` : ''}`,
            );
            return { confirmedVersion: ref.newVersion };
          }),
      );
    },
  };
}

import { ApplicationFailure } from '@temporalio/common';
import type { RotationRef, RotationSpec } from '../../workflows/rotation-types.js';
import type { ActivityContext } from '../activity-context.js';
import { audited } from '../audit/audited.js';
import { activeFreezeOf } from '../incident/freeze-store.js';
import { unhealthyConsumers } from './consumer-health.js';
import { appendRotationEvent } from './rotation-events.js';
import { withSecret } from './secret-handle.js';
import { FailureType } from '../../workflows/failure-types.js';
import type { Promotion } from './secret-metadata.js';

export function prepareRotationActivities(ctx: ActivityContext) {
  return {
    /**
     * The inventory entry minus anything secret, so the workflow can plan its phases; records that
     * the rotation started (one step, not two: every rotation begins with both).
     */
    async beginRotation(start: RotationRef & { emergency: boolean; reason: string | null; eventId: string }): Promise<RotationSpec> {
      const spec = await ctx.inventory.secret(start.secretId);
      await appendRotationEvent(ctx, {
        ...start,
        step: 'rotation_started',
        outcome: 'started',
        detail: { emergency: start.emergency, reason: start.reason },
      });
      return {
        secretId: start.secretId,
        path: spec.path,
        providerType: spec.provider.type,
        overlapMs: spec.overlap,
        consumers: spec.consumers.map((c) => ({ name: c.name, mode: c.confirm.mode, timeoutMs: c.confirm.timeout })),
      };
    },

    /** A plan's secrets in order; every one must be in the inventory. */
    async loadPlanSpec({ planId }: { planId: string }): Promise<{ secrets: string[] }> {
      const inventory = await ctx.inventory.current();
      const plan = inventory.plans.find((p) => p.id === planId);
      if (!plan) {
        throw ApplicationFailure.nonRetryable(
          `planId "${planId}" is not in the inventory; known plans: ${inventory.plans.map((p) => p.id).join(', ') || 'none'}`,
          FailureType.UnknownPlan,
        );
      }
      return { secrets: plan.secrets };
    },

    /**
     * No incident freeze, the current version authenticates, consumers healthy; Vault is unsealed
     * if the current version can be read (a sealed Vault fails that read as VaultSealed).
     */
    async precheck(ref: RotationRef & { emergency: boolean }): Promise<{ currentVersion: number; promotion?: Promotion }> {
      return audited(
        ctx,
        { step: 'precheck', secretId: ref.secretId, actor: ref.actor },
        async () => {
          const active = await activeFreezeOf(ctx.db, ref.secretId);
          if (active && !ref.emergency) {
            throw ApplicationFailure.nonRetryable(
              `incident ${active.incidentId} froze rotations (${active.reason}); only emergency rotations run until it is lifted`,
              FailureType.IncidentFreeze,
            );
          }
          return withSecret(ctx, ref.secretId, async (secret) => {
            const { version: currentVersion, promotion } = await secret.current();
            const current = await secret.read(currentVersion);
            // In an incident the current credential is presumed compromised and may already be
            // changed or revoked by someone else: rotor rotates away from it whatever a login says,
            // so it does not spend one. Otherwise a broken current credential stops here.
            if (!ref.emergency) await secret.provider.test(current.data);
            // Also in an incident: a new credential that cannot do what the old one could is an
            // outage for every consumer, and the operator must hear why before anything changes.
            await secret.provider.precheck?.(current.data);
            const unhealthy = await unhealthyConsumers(secret.spec.consumers);
            if (unhealthy.length && !ref.emergency) {
              throw ApplicationFailure.retryable(
                `consumers not healthy before rotation: ${unhealthy.join('; ')}`,
                FailureType.ConsumerUnhealthy,
              );
            }
            return promotion ? { currentVersion, promotion } : { currentVersion };
          });
        },
        (r) => ({ fromVersion: r.currentVersion }),
      );
    },
  };
}

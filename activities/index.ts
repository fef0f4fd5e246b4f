import type { ActivityContext } from './activity-context.js';
import { breakGlassActivities } from './break-glass/break-glass-activities.js';
import { identityActivities } from './identity/identity-activities.js';
import { incidentActivities } from './incident/incident-activities.js';
import { consumerCutoverActivities } from './rotation/consumer-cutover.js';
import { emergencyStepActivities } from './rotation/emergency-steps.js';
import { prepareRotationActivities } from './rotation/prepare-rotation.js';
import { rotationEventActivities } from './rotation/rotation-events.js';
import { seedSecretActivities } from './rotation/seed-secret.js';
import { stagedCredentialActivities } from './rotation/staged-credential.js';
import { versionActivities } from './rotation/versions.js';
import { stackHealthActivities } from './stack-health.js';

/** Every activity the worker registers, bound to one context. */
export function createActivities(ctx: ActivityContext) {
  return {
    ...stackHealthActivities(ctx),
    ...prepareRotationActivities(ctx),
    ...stagedCredentialActivities(ctx),
    ...versionActivities(ctx),
    ...emergencyStepActivities(ctx),
    ...consumerCutoverActivities(ctx),
    ...rotationEventActivities(ctx),
    ...seedSecretActivities(ctx),
    ...breakGlassActivities(ctx),
    ...incidentActivities(ctx),
    ...identityActivities(ctx),
  };
}

export type Activities = ReturnType<typeof createActivities>;

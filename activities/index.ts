import type { ActivityContext } from './activity-context.js';
import { stackHealthActivities } from './stack-health.js';

/** Every activity the worker registers, bound to one context. */
export function createActivities(ctx: ActivityContext) {
  return {
    ...stackHealthActivities(ctx),
  };
}

export type Activities = ReturnType<typeof createActivities>;

export { stackHealth } from './stack-health.js';
export { rotateSecret } from './rotate-secret.js';
export { emergencyRotate } from './emergency-rotate.js';
export { seedSecret } from './seed-secret.js';
export { rotatePlan } from './rotate-plan.js';
export { breakGlass } from './break-glass.js';
export { revokeAll, unfreeze } from './revoke-all.js';

export { stackHealth } from './stack-health.js';

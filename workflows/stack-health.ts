import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { StackHealth } from '../activities/stack-health.js';

const { checkStackHealth } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

/** A smoke test of the whole chain: Temporal → worker → Vault + PostgreSQL. */
export async function stackHealth(_input: Record<string, never> = {}): Promise<StackHealth> {
  return checkStackHealth();
}

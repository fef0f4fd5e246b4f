import type { ConsumerSpec } from '../../config/inventory-schema.js';

/** GETs every consumer's health URL; returns "name: why" for each one that is not 2xx. */
export async function unhealthyConsumers(consumers: readonly ConsumerSpec[]): Promise<string[]> {
  const problems: string[] = [];
  await Promise.all(
    consumers.map(async (c) => {
      if (!c.healthUrl) return;
      try {
        const response = await fetch(c.healthUrl, { signal: AbortSignal.timeout(5000) });
        if (!response.ok) problems.push(`${c.name}: health answered ${response.status}`);
      } catch (err) {
        problems.push(`${c.name}: health unreachable (${(err as Error).message})`);
      }
    }),
  );
  return problems;
}

import { expect } from 'vitest';
import { rotationWorkflowId } from '../../workflows/contracts.js';
import { decodedHistoryText } from './decoded-history.js';
import { superuserClient, type TestStack } from './test-stack.js';

/** The workflow that seeded a secret on this stack's task queue (rotation-fixtures.ts `seed`). */
export const seedWorkflowId = (stack: Pick<TestStack, 'taskQueue'>, secretId: string): string => `seed/${secretId}/${stack.taskQueue}`;

/** A secret's seed workflow and its (last) rotation workflow, both of which must exist. */
export const seedAndRotationIds = (stack: Pick<TestStack, 'taskQueue'>, secretIds: readonly string[]): string[] =>
  secretIds.flatMap((id) => [seedWorkflowId(stack, id), rotationWorkflowId(id)]);

export interface LeakScanSources {
  /** Workflows whose decoded histories are scanned; each must exist (a missing one fails the scan). */
  workflowIds: readonly string[];
  /** Secrets whose audit rows are scanned, every column as text, as an auditor would read them. */
  secretIds: readonly string[];
  /** More text to scan besides the worker's log lines, e.g. logs of activities called directly. */
  extraText?: readonly string[];
  /** The audit rows found must number more than this (default 10): the scan must see real rows. */
  minAuditRows?: number;
}

/**
 * Everything a secret value must never appear in, as one string: the worker's log lines, the
 * decoded histories of the given workflows, and the secrets' audit rows (whole rows as text).
 */
export async function leakHaystack(stack: TestStack, sources: LeakScanSources): Promise<string> {
  const texts: string[] = [];
  for (const workflowId of new Set(sources.workflowIds))
    texts.push(await decodedHistoryText(stack.client, workflowId, stack.env.ROTOR_CODEC_KEY));
  const su = await superuserClient(stack.file, 'rotor');
  try {
    const audit = await su.query<{ row: string }>('SELECT a::text AS row FROM audit_log a WHERE secret_id = ANY($1)', [
      [...sources.secretIds],
    ]);
    expect(audit.rowCount, `audit rows of ${sources.secretIds.join(', ')}`).toBeGreaterThan(sources.minAuditRows ?? 10);
    texts.push(audit.rows.map((r) => r.row).join('\n'));
  } finally {
    await su.end();
  }
  texts.push(stack.logLines.join('\n'), ...(sources.extraText ?? []));
  return texts.join('\n');
}

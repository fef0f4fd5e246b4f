import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { FailureType } from '../../workflows/failure-types.js';

/** Why one field failed, in words that never include the field's value. */
function problem(data: unknown, issue: z.core.$ZodIssue): string {
  const field = issue.path.map(String).join('.');
  if (!field) return 'it is not an object of string fields';
  const top = issue.path[0];
  const present = typeof data === 'object' && data !== null && top !== undefined && Object.hasOwn(data, top);
  if (!present) return `field "${field}" is missing`;
  return issue.code === 'invalid_type' ? `field "${field}" is not a string` : `field "${field}" is invalid`;
}

/**
 * `data` read from Vault, checked against a provider's credential (or admin) schema: a missing or
 * mistyped field fails the step non-retryably (retrying reads the same data) with a message that
 * names the field and `where` it was read, never a value.
 */
export function parseCredential<T>(schema: z.ZodType<T>, data: unknown, where: string): T {
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  const problems = [...new Set(parsed.error.issues.map((issue) => problem(data, issue)))];
  throw ApplicationFailure.nonRetryable(
    `${where} does not hold a usable credential: ${problems.join('; ')} (fix the data at that path in Vault)`,
    FailureType.MalformedCredential,
  );
}

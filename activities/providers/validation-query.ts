import { z } from 'zod';

/**
 * `provider.validationQuery` of SQL targets: run as the new credential when it is tested and again
 * at post-validation (e.g. "SELECT 1 FROM orders LIMIT 1"), so a privilege the application needs
 * and the new user lacks aborts the rotation before promotion. A statement, not a secret: never put
 * a value in it. Pure zod (schemas load it).
 */
export const validationQuery = z
  .string()
  .trim()
  .min(1, 'a SQL statement such as "SELECT 1 FROM orders LIMIT 1"')
  .max(2000, 'at most 2000 characters');

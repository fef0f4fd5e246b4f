/**
 * Loaded once per worker thread before any workflow and then shared, frozen, by all of them (see
 * WORKFLOW_BUNDLER_OPTIONS). zod finishes its global set-up (default locale, memoizer) lazily, on
 * the first schema it builds, by writing to its global config, which a frozen module refuses: so
 * build and run one schema of each kind the workflows use here, before the freeze.
 */
import { z } from 'zod';

// Every workflow builds its input schema afresh (its modules are its own), so zod's compiled fast
// path for objects would be compiled (`new Function`) once per workflow, to run once.
z.config({ jitless: true });

z.strictObject({
  text: z.string().min(1).max(2),
  count: z.number().int().positive(),
  flag: z.boolean().default(false),
  kind: z.enum(['a', 'b']),
  list: z.array(z.string()).optional(),
  nested: z.object({ id: z.string().regex(/^x$/) }).nullable(),
}).safeParse({ text: '', count: 1.5, kind: 'c', list: [1], nested: { id: 'y' } });

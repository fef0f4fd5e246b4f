import { configDefaults, defineConfig } from 'vitest/config';

/** Tests that need nothing but Node: no servers, so `npm test -- test/unit` runs on a fresh machine. */
const UNIT = ['test/unit/**/*.test.ts', '**/*.unit.test.ts'];

export default defineConfig({
  test: {
    // Temporal workers run native code and install a process-wide Runtime: forks isolate them.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT } },
      {
        extends: true,
        test: {
          name: 'integration',
          // Everything else, against the real stack. Vitest runs a project's global setup only
          // when a file of that project is selected, so a unit-only run starts no server.
          include: ['test/**/*.test.ts', '**/*.integration.test.ts'],
          exclude: [...configDefaults.exclude, '.rotor/**', ...UNIT],
          globalSetup: ['test/global-setup.ts'],
        },
      },
    ],
  },
});

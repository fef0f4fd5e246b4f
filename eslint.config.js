import { builtinModules } from 'node:module';
import js from '@eslint/js';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const NO_NODE_IN_WORKFLOWS = "no Node builtins in workflow code (Temporal's sandbox): do I/O in activities/";

export default tseslint.config(
  { ignores: ['node_modules/', '.rotor/', 'dist/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
      'import-x/no-cycle': 'error',
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no I/O libraries, no Node builtins at
    // all, and activities only as types (proxyActivities<typeof …>); the worker runs them.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...['node-vault', 'pg', 'pino', '@temporalio/worker', '@temporalio/client', '@temporalio/activity'].map((name) => ({
              name,
              message: 'workflows/ is deterministic sandboxed code: do I/O in activities/',
            })),
            ...builtinModules.map((name) => ({ name, message: NO_NODE_IN_WORKFLOWS })),
          ],
          patterns: [
            { group: ['node:*'], message: NO_NODE_IN_WORKFLOWS },
            {
              group: ['**/activities/**'],
              allowTypeImports: true,
              message: 'workflows/ may import activities/ only with `import type` (for proxyActivities); the worker runs them',
            },
          ],
        },
      ],
    },
  },
  {
    // The CLI talks to Temporal, Vault and the database; it never loads the stack launcher.
    files: ['cli/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/stack/**'],
              message: 'cli/ must not import stack/ (the local stack launcher); shared code goes in config/ or vault/',
            },
          ],
        },
      ],
    },
  },
  {
    // The Vault client is a layer below activities and workflows: it may know their types, not their code.
    files: ['vault/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/activities/**'], message: 'vault/ is the layer below activities/: it must not import them' },
            {
              group: ['**/workflows/**'],
              allowTypeImports: true,
              message: 'vault/ may import workflows/ only with `import type`',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../config/load-inventory.js';
import { REPO_ROOT } from '../../config/repo-root.js';
import { operatorPolicy } from '../../vault/policies/operator-policy.js';
import { renderWorkerPolicies, workerPoliciesText } from '../../vault/policies/worker-policy.js';

const EXAMPLE = join(REPO_ROOT, 'config', 'inventory.example.yaml');

/**
 * `rotor policy render` with no ROTOR_* connection settings and no local stack (a state dir that
 * does not exist): it reads files only.
 */
async function rotor(args: string[], env: Record<string, string> = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ROTOR_')));
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['cli/rotor.js', ...args], {
      cwd: REPO_ROOT,
      env: { ...clean, ROTOR_STATE_DIR: join(tmpdir(), 'rotor-no-stack-here'), ROTOR_TEMPORAL_ADDRESS: '127.0.0.1:1', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('rotor policy render', () => {
  it('--name names the worker policy, its secret policies and token role; a name with other characters is refused', async () => {
    const run = await rotor(['policy', 'render', 'worker', '--inventory', EXAMPLE, '--name', 'rotor-prod']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^# policy rotor-prod$/m);
    expect(run.stdout).toMatch(/^# policy rotor-prod-secret-payments-db$/m);
    expect(run.stdout).toContain('auth/token/create/rotor-prod-secrets');
    expect(run.stdout).not.toMatch(/^# policy rotor-worker/m);
    const bad = await rotor(['policy', 'render', 'worker', '--inventory', EXAMPLE, '--name', 'rotor/*']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--name "rotor\/\*"/);
    expect(bad.stdout).toBe('');
  });

  it('prints the worker policy of the inventory, with no server and no credential', async () => {
    const run = await rotor(['policy', 'render', 'worker', '--inventory', EXAMPLE]);
    expect(run.code).toBe(0);
    const expected = workerPoliciesText(
      renderWorkerPolicies(parseInventory(await readFile(EXAMPLE, 'utf8')), {
        kvMount: 'rotor',
        name: 'rotor-worker',
        inventoryName: EXAMPLE,
      }),
    );
    expect(run.stdout).toBe(expected);
    // ROTOR_INVENTORY and ROTOR_VAULT_KV_MOUNT when no flag is given.
    const fromEnv = await rotor(['policy', 'render', 'worker'], { ROTOR_INVENTORY: EXAMPLE, ROTOR_VAULT_KV_MOUNT: 'secrets' });
    expect(fromEnv.stdout).toContain('path "secrets/data/apps/payments-db"');
    expect(fromEnv.stdout).not.toContain('"rotor/');
  }, 30_000);

  it('prints the operator policy', async () => {
    const run = await rotor(['policy', 'render', 'operator']);
    expect(run).toMatchObject({ code: 0, stdout: operatorPolicy('rotor') });
  }, 30_000);

  it('refuses a missing inventory, an invalid one and an unknown policy with the fix (exit 2)', async () => {
    expect(await rotor(['policy', 'render', 'worker'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--inventory/) });
    expect(await rotor(['policy', 'render', 'auditor'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/worker\|operator/) });
    const dir = await mkdtemp(join(tmpdir(), 'rotor-policy-'));
    try {
      const bad = join(dir, 'inventory.yaml');
      await writeFile(
        bad,
        'secrets:\n  - { id: a-db, path: apps/a, owner: t, provider: { type: postgres, adminPath: "_rotor/*", users: [a_a, a_b] } }\n',
      );
      const run = await rotor(['policy', 'render', 'worker', '--inventory', bad]);
      expect(run).toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(/secrets\[0\]\.provider\.adminPath "_rotor\/\*"/) });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

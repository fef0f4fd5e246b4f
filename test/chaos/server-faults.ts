import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import type { ManagedProcess } from '../../stack/managed-process.js';
import { startPostgres, stopPostgres } from '../../stack/postgres-server.js';
import { recordProcess } from '../../stack/recorded-processes.js';
import { startTemporal } from '../../stack/temporal-server.js';
import { ensureTools } from '../../stack/tools.js';
import type { StackFile } from '../../stack/up.js';
import { VaultClient } from '../../vault/vault-client.js';
import { superuserClient } from '../helpers/test-stack.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Real outages of the chaos stack's servers: a stopped process, a sealed Vault, a restarted
 * Temporal, a PostgreSQL that is shut down, a table or role row locked by another session.
 */
export class ServerFaults {
  /** Temporal servers this run started in place of the stack's own (stopped by `close`). */
  private readonly temporals: ManagedProcess[] = [];

  private readonly vaultPid: number;
  private readonly temporalPid: number;
  private readonly vaultAddr: string;

  constructor(private readonly file: StackFile) {
    const { vault, temporal } = file.pids;
    const addr = file.env.ROTOR_VAULT_ADDR;
    if (!vault || !temporal || !addr) throw new Error(`${file.stateDir}/stack.json lacks the Vault or Temporal pid or the Vault address`);
    this.vaultPid = vault;
    this.temporalPid = temporal;
    this.vaultAddr = addr;
  }

  /** SIGSTOP, then SIGCONT after `ms`: the Vault API server answers nothing meanwhile. */
  async stopVault(ms: number): Promise<void> {
    process.kill(this.vaultPid, 'SIGSTOP');
    try {
      await sleep(ms);
    } finally {
      process.kill(this.vaultPid, 'SIGCONT');
    }
  }

  async sealVault(): Promise<void> {
    await new VaultClient(this.vaultAddr, this.file.vaultRootToken).request('PUT', 'sys/seal');
  }

  async unsealVault(): Promise<void> {
    const { unsealKey } = JSON.parse(await readFile(join(this.file.stateDir, 'vault-init.json'), 'utf8')) as { unsealKey: string };
    await new VaultClient(this.vaultAddr).unseal(unsealKey);
  }

  /** Shuts PostgreSQL down (targets and rotor's own database) for `ms`, then starts it again. */
  async stopPostgres(ms: number): Promise<void> {
    const tools = await ensureTools();
    await stopPostgres(tools.pgBin, this.file.stateDir);
    try {
      await sleep(ms);
    } finally {
      await startPostgres(tools.pgBin, this.file.stateDir, this.file.ports);
    }
  }

  /** SIGKILL the Temporal dev server and start it again on the same database file. */
  async restartTemporal(): Promise<void> {
    const tools = await ensureTools();
    const current = this.temporals.at(-1);
    if (current) {
      current.child.kill('SIGKILL');
      await current.exited;
    } else {
      process.kill(this.temporalPid, 'SIGKILL');
      while (isAlive(this.temporalPid)) await sleep(50);
    }
    const restarted = await startTemporal(tools.temporal, this.file.stateDir, this.file.ports);
    this.temporals.push(restarted);
    // A chaos run killed from now on leaves this server behind: the next start stops it.
    await recordProcess(this.file.stateDir, 'temporal', restarted.child.pid!);
  }

  /** Holds a lock another session took, in a transaction of its own, until `release()`. */
  async lock(database: string, sql: string): Promise<{ release(): Promise<void> }> {
    const client: pg.Client = await superuserClient(this.file, database);
    await client.query('BEGIN');
    await client.query(sql);
    return {
      async release() {
        await client.query('ROLLBACK').catch(() => undefined);
        await client.end().catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {
    for (const t of this.temporals) await t.stop();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

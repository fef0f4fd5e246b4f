/**
 * CPU seconds spent by each part of the stack between two snapshots, read from /proc: what a
 * benchmark on a small machine is really limited by. PostgreSQL counts its exited backends through
 * the postmaster's reaped-children times (cutime/cstime) plus the live ones.
 */
import { readdir, readFile } from 'node:fs/promises';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export type CpuSnapshot = Record<string, number>;

interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  own: number;
  reaped: number;
}

async function procStat(pid: number): Promise<ProcStat | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces: fields after the closing parenthesis are fixed.
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const f = text.slice(close + 2).split(' ');
    const n = (i: number) => Number(f[i - 3]);
    return { pid, ppid: n(4), comm, own: n(14) + n(15), reaped: n(16) + n(17) };
  } catch {
    return undefined; // exited between readdir and read
  }
}

/** CPU seconds so far of this process, and of every process named by `parts` (by comm prefix). */
export async function cpuSnapshot(parts: Record<string, string>): Promise<CpuSnapshot> {
  const all = (await Promise.all((await readdir('/proc')).filter((d) => /^\d+$/.test(d)).map((d) => procStat(Number(d))))).filter(
    (p): p is ProcStat => p !== undefined,
  );
  const snapshot: CpuSnapshot = {};
  const self = all.find((p) => p.pid === process.pid);
  snapshot['this node process (worker)'] = (self?.own ?? 0) / TICKS_PER_SECOND;
  for (const [label, comm] of Object.entries(parts)) {
    const roots = all.filter((p) => p.comm.startsWith(comm) && !all.some((q) => q.pid === p.ppid && q.comm.startsWith(comm)));
    let ticks = 0;
    for (const root of roots) {
      ticks += root.own + root.reaped;
      ticks += all.filter((p) => p.ppid === root.pid).reduce((sum, p) => sum + p.own, 0);
    }
    snapshot[label] = ticks / TICKS_PER_SECOND;
  }
  return snapshot;
}

export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): CpuSnapshot {
  return Object.fromEntries(Object.keys(after).map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]));
}

export const STACK_PARTS = { 'Temporal dev server': 'temporal', 'OpenBao (Vault API)': 'bao', PostgreSQL: 'postgres' };

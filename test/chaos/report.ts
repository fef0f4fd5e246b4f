import type { RunRecord } from './scenarios.js';

function percentile(sorted: number[], p: number): number | undefined {
  if (!sorted.length) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const seconds = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)}s`);

/** Prints scenario, runs, outcomes, faults, violations, time to recover (p50/p99); true when nothing was violated. */
export function printReport(records: Map<string, RunRecord[]>): boolean {
  const rows = [...records].map(([name, runs]) => {
    const outcomes = new Map<string, number>();
    for (const r of runs) outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);
    const recover = runs.flatMap((r) => r.recoverMs).sort((a, b) => a - b);
    return [
      name,
      String(runs.length),
      [...outcomes].map(([o, k]) => `${o} ${k}`).join(', '),
      String(runs.reduce((sum, r) => sum + r.faults, 0)),
      String(runs.reduce((sum, r) => sum + r.violations.length, 0)),
      `${seconds(percentile(recover, 50))} / ${seconds(percentile(recover, 99))}`,
    ];
  });
  const all = [...records.values()].flat();
  const total = [
    'total',
    String(all.length),
    '',
    String(all.reduce((s, r) => s + r.faults, 0)),
    String(all.reduce((s, r) => s + r.violations.length, 0)),
    '',
  ];
  const table = [['scenario', 'runs', 'outcomes', 'faults', 'violations', 'recover p50 / p99'], ...rows, total];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  process.stdout.write(
    [line(table[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...table.slice(1).map(line)].join('\n') + '\n',
  );
  return all.every((r) => r.violations.length === 0);
}

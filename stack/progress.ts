/** One line per slow step: what it is doing, then how long it took. */
export async function step<T>(label: string, run: () => Promise<T>): Promise<T> {
  const started = Date.now();
  process.stdout.write(`[rotor] ${label} ...\n`);
  try {
    const result = await run();
    process.stdout.write(`[rotor] ${label}: done in ${seconds(started)}\n`);
    return result;
  } catch (err) {
    process.stdout.write(`[rotor] ${label}: FAILED after ${seconds(started)}\n`);
    throw err;
  }
}

export function info(message: string): void {
  process.stdout.write(`[rotor] ${message}\n`);
}

function seconds(started: number): string {
  return `${((Date.now() - started) / 1000).toFixed(1)}s`;
}

// `npm start`: install dependencies when needed, then run the local stack (stack/main.ts start).
// Plain JavaScript on purpose: it must run before node_modules (and tsx) exist.
import { spawn } from 'node:child_process';
import { clearInterval, setInterval } from 'node:timers';
import { ensureDependencies } from './ensure-dependencies.mjs';

ensureDependencies();
const launcher = spawn(process.execPath, ['--import', 'tsx', 'stack/main.ts', 'start'], { stdio: 'inherit' });
const stop = (signal) => {
  if (launcher.exitCode === null && launcher.signalCode === null) launcher.kill(signal);
};
// A signal sent to this process alone (`kill <pid>`, a supervisor) reaches the launcher, which
// stops the worker and every server in order; we exit when it has. Ctrl-C in a terminal reaches
// both: the launcher ignores the second.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => stop(signal));
// `npm start` runs us through a shell: a SIGTERM to npm ends npm and that shell, neither passes it
// on, and we are re-parented. Losing our parent means we were told to stop.
const parent = process.ppid;
const orphaned = setInterval(() => {
  if (process.ppid !== parent) {
    clearInterval(orphaned);
    stop('SIGTERM');
  }
}, 250);
launcher.on('exit', (code, signal) => {
  clearInterval(orphaned);
  process.exit(code ?? (signal === 'SIGINT' ? 130 : signal ? 143 : 1));
});

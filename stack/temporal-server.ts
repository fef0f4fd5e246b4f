import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/search-attributes.js';
import { startProcess, type ManagedProcess } from './managed-process.js';
import type { Ports } from './ports.js';
import { StackError } from './stack-error.js';
import { UI_CODEC_PATH } from './ui-gateway.js';
import { waitFor } from './wait-for.js';

export async function startTemporal(bin: string, stateDir: string, ports: Ports): Promise<ManagedProcess> {
  const logFile = join(stateDir, 'temporal.log');
  const args = [
    'server',
    'start-dev',
    '--db-filename',
    join(stateDir, 'temporal.sqlite'),
    '--ip',
    '127.0.0.1',
    '--port',
    String(ports.temporal),
    // The UI's own port is private: browsers come through rotor's gateway on ports.temporalUi, which
    // serves the codec on the same origin (stack/ui-gateway.ts).
    '--ui-port',
    String(ports.temporalUiServer),
    '--http-port',
    String(ports.temporalHttp),
    '--metrics-port',
    String(ports.temporalMetrics),
    // A path, not a URL: the UI fetches `<path>/decode` from whatever host name the browser used, so
    // the request is same-origin and carries the login cookie (the UI sends none cross-origin).
    '--ui-codec-endpoint',
    UI_CODEC_PATH,
    '--namespace',
    'default',
    // WAL + synchronous=normal: still crash-safe for the process, far fewer fsyncs per workflow task.
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    'synchronous=normal',
    '--log-level',
    'warn',
    ...ALL_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
  ];
  const proc = startProcess('temporal', bin, args, logFile);
  try {
    await waitFor(
      'Temporal frontend',
      async () => {
        const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}`, connectTimeout: 1000 });
        try {
          await connection.workflowService.describeNamespace({ namespace: 'default' });
          return true;
        } finally {
          await connection.close();
        }
      },
      90_000,
      () => (proc.child.exitCode !== null ? `exited with code ${proc.child.exitCode}` : undefined),
    );
    await waitFor('Temporal Web UI', async () => (await fetch(`http://127.0.0.1:${ports.temporalUiServer}/`)).ok, 30_000);
  } catch (err) {
    await proc.stop();
    throw new StackError(
      `Temporal dev server did not become healthy: ${(err as Error).message}`,
      'read the log; a corrupt SQLite file is fixed by `npm run stack -- reset`',
      logFile,
    );
  }
  return proc;
}

/**
 * Records workflow histories for the replay test (test/unit/replay.test.ts). Before changing what a
 * workflow does, run the integration tests on the code as it is (they leave their Temporal state
 * in .rotor/test/), then record the paths the change touches (docs/versioning.md):
 *
 *   npx tsx test/replay/record-histories.ts --list                 # what the state holds
 *   npx tsx test/replay/record-histories.ts <name>=<workflowId>[@<runId>] ...
 *
 * It starts a Temporal dev server of its own on that state (`--state <dir>`, default .rotor/test),
 * decrypts every payload with that stack's codec key, so the committed files replay without a key,
 * and masks anything shaped like a Vault token. Each history lands in test/replay/histories/<name>.json.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { historyToFile } from './history-file.js';
import { REPO_ROOT } from '../../config/repo-root.js';
import { assertPortsFree, portsFor } from '../../stack/ports.js';
import { startTemporal } from '../../stack/temporal-server.js';
import { ensureTools } from '../../stack/tools.js';
import { AesGcmCodec } from '../../workers/codec.js';

const HISTORIES = fileURLToPath(new URL('./histories/', import.meta.url));
/**
 * Vault tokens (service, batch, wrapping, legacy) and identity tokens (JWTs, spent and expired, but
 * still a person's signed name): a recorded history never carries one. Workflow code only checks
 * that an identity token is present; its verification is an activity result in the history.
 */
const TOKEN = /\b(hv[sbr]\.[A-Za-z0-9_-]{20,}|s\.[A-Za-z0-9]{24}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})\b/g;

async function decodeInPlace(node: unknown, codec: AesGcmCodec): Promise<void> {
  if (!node || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'payloads' && Array.isArray(value)) {
      const decoded = await codec.decode(value as Payload[]);
      (node as Record<string, unknown>)[key] = decoded.map(maskTokens);
    } else if (value && typeof value === 'object' && 'metadata' in value && 'data' in value) {
      (node as Record<string, unknown>)[key] = maskTokens((await codec.decode([value as Payload]))[0]!);
    } else await decodeInPlace(value, codec);
  }
}

function maskTokens(payload: Payload): Payload {
  const text = Buffer.from(payload.data ?? []).toString('utf8');
  // An identity token keeps a placeholder its schema accepts (20+ characters): the workflow code
  // re-validates an update's payload after verification, and a shorter mask would fail it in replay.
  const masked = text.replace(TOKEN, (token) => (token.startsWith('eyJ') ? '[identity token, masked]' : '[token]'));
  return masked === text ? payload : { ...payload, data: Buffer.from(masked) };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const stateAt = args.indexOf('--state');
  const stateDir = resolve(stateAt >= 0 ? args.splice(stateAt, 2)[1]! : join(REPO_ROOT, '.rotor', 'test'));
  const list = args.includes('--list');
  const stack = JSON.parse(await readFile(join(stateDir, 'stack.json'), 'utf8')) as { env: { ROTOR_CODEC_KEY: string } };
  const codec = new AesGcmCodec(stack.env.ROTOR_CODEC_KEY);
  const { temporal } = await ensureTools();
  const ports = portsFor('bench');
  await assertPortsFree(ports);
  const server = await startTemporal(temporal, stateDir, ports);
  const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
  const client = new Client({ connection });
  try {
    if (list) {
      for await (const w of client.workflow.list()) {
        const outcome = w.searchAttributes?.RotorOutcome?.[0] ?? '';
        console.log(`${w.workflowId}@${w.runId}  ${w.type}  ${w.status.name}  ${String(outcome)}`);
      }
    }
    for (const arg of args.filter((a) => a !== '--list')) {
      const [name, ref] = arg.split('=');
      const [workflowId, runId] = (ref ?? '').split('@');
      if (!name || !workflowId) throw new Error(`"${arg}": expected <name>=<workflowId>[@<runId>]`);
      const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
      await decodeInPlace(history, codec);
      await writeFile(join(HISTORIES, `${name}.json`), historyToFile({ workflowId, history }));
      console.log(`${name}: ${history.events?.length ?? 0} events of ${workflowId}`);
    }
  } finally {
    await connection.close();
    await server.stop();
  }
}

await main();

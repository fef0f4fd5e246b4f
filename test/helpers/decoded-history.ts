import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { AesGcmCodec } from '../../workers/codec.js';

/** Every payload in a workflow's history, decrypted with the codec, as one searchable string. */
export async function decodedHistoryText(client: Client, workflowId: string, codecKey: string): Promise<string> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const payloads: Payload[] = [];
  const walk = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    const maybe = node as Payload;
    if (maybe.metadata && maybe.data instanceof Uint8Array) payloads.push(maybe);
    for (const value of Object.values(node)) walk(value);
  };
  walk(history);
  const decoded = await new AesGcmCodec(codecKey).decode(payloads);
  return (
    decoded.map((p) => Buffer.from(p.data ?? []).toString('utf8')).join('\n') +
    JSON.stringify(history, (_k, v: unknown) => (v instanceof Uint8Array ? '' : v))
  );
}

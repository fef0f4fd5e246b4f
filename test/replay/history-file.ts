import type { History } from '@temporalio/common/lib/proto-utils.js';
import proto from '@temporalio/proto';

const { History: HistoryType } = proto.temporal.api.history.v1;

/**
 * The committed form of a history, with the id of its workflow: protobufjs's own JSON (enum names, bytes as base64, 64-bit
 * numbers as strings). Temporal's `historyToJSON` fails here on a protobufjs version mismatch
 * between @temporalio/common and @temporalio/proto, and this form round-trips exactly.
 */
export interface RecordedHistory {
  /** Workflows read their own id (rotateSecret claims rotate/<secretId>), so replay needs it. */
  workflowId: string;
  history: History;
}

export function historyToFile({ workflowId, history }: RecordedHistory): string {
  const object = HistoryType.toObject(HistoryType.fromObject(history), { longs: String, enums: String, bytes: String });
  return JSON.stringify({ workflowId, history: object }, null, 1) + '\n';
}

export function historyFromFile(text: string): RecordedHistory {
  const { workflowId, history } = JSON.parse(text) as { workflowId: string; history: Record<string, unknown> };
  return { workflowId, history: HistoryType.fromObject(history) };
}

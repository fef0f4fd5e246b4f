import type { DataConverter } from '@temporalio/common';
import { AesGcmCodec } from './codec.js';

/** The same converter on client and worker: both must agree to read each other's payloads. */
export function dataConverter(codecKeyBase64: string): DataConverter {
  return { payloadCodecs: [new AesGcmCodec(codecKeyBase64)] };
}

import { randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, ValueError } from '@temporalio/common';
import proto from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { AesGcmCodec } from '../../workers/codec.js';

const KEY = randomBytes(32).toString('base64');
const SECRET = 'hunter2-s3cr3t-password-value';

function jsonPayload(value: unknown): Payload {
  return { metadata: { [METADATA_ENCODING_KEY]: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(value)) };
}

const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString();

/** A payload's metadata as strings and its data as text, for comparisons independent of Buffer/Uint8Array/proto classes. */
function plain(payload: Payload | undefined) {
  return {
    metadata: Object.fromEntries(Object.entries(payload?.metadata ?? {}).map(([k, v]) => [k, text(v)])),
    data: text(payload?.data),
  };
}

async function encodeOne(codec: AesGcmCodec, payload: Payload): Promise<Payload> {
  const [encoded] = await codec.encode([payload]);
  if (!encoded) throw new Error('encode returned no payload');
  return encoded;
}

describe('AesGcmCodec', () => {
  it('round-trips payloads, metadata included', async () => {
    const codec = new AesGcmCodec(KEY);
    const payloads: Payload[] = [
      jsonPayload({ username: 'payments_a', password: SECRET }),
      { metadata: { [METADATA_ENCODING_KEY]: Buffer.from('binary/null') } },
      { metadata: { [METADATA_ENCODING_KEY]: Buffer.from('binary/plain'), custom: Buffer.from('x') }, data: randomBytes(1000) },
    ];
    const encoded = await codec.encode(payloads);
    expect(encoded).toHaveLength(3);
    const decoded = await codec.decode(encoded);
    expect(decoded.map(plain)).toEqual(payloads.map(plain));
    expect(Buffer.from(decoded[2]?.data ?? []).equals(Buffer.from(payloads[2]?.data ?? []))).toBe(true);
  });

  it('marks encoded payloads as encrypted with its key id, hiding the original metadata', async () => {
    const encoded = await encodeOne(new AesGcmCodec(KEY, 'rotor-7'), jsonPayload({ password: SECRET }));
    expect(plain(encoded).metadata).toEqual({ [METADATA_ENCODING_KEY]: 'binary/encrypted', 'encryption-key-id': 'rotor-7' });
  });

  it('defaults the key id to rotor-1', async () => {
    const codec = new AesGcmCodec(KEY);
    expect(codec.keyId).toBe('rotor-1');
    expect(plain(await encodeOne(codec, jsonPayload(1))).metadata['encryption-key-id']).toBe('rotor-1');
  });

  it('leaves no plaintext in the encoded data', async () => {
    const original = jsonPayload({ password: SECRET });
    const encoded = await encodeOne(new AesGcmCodec(KEY), original);
    const data = Buffer.from(encoded.data ?? []);
    expect(data.includes(Buffer.from(SECRET))).toBe(false);
    expect(data.includes(Buffer.from('json/plain'))).toBe(false);
    expect(data.includes(Buffer.from('password'))).toBe(false);
    // iv (12) ‖ ciphertext of the whole serialised payload, metadata included ‖ tag (16).
    expect(data.length).toBe(12 + proto.temporal.api.common.v1.Payload.encode(original).finish().length + 16);
  });

  it('uses a fresh IV: the same payload encrypts differently each time', async () => {
    const codec = new AesGcmCodec(KEY);
    const [a, b] = await codec.encode([jsonPayload({ password: SECRET }), jsonPayload({ password: SECRET })]);
    const da = Buffer.from(a?.data ?? []);
    const db = Buffer.from(b?.data ?? []);
    expect(da.subarray(0, 12).equals(db.subarray(0, 12))).toBe(false);
    expect(da.equals(db)).toBe(false);
  });

  it.each([
    ['the IV', 0],
    ['the ciphertext', 20],
    ['the auth tag', -1],
  ])('refuses a payload with one byte of %s flipped', async (_part, offset) => {
    const codec = new AesGcmCodec(KEY);
    const encoded = await encodeOne(codec, jsonPayload({ password: SECRET }));
    const data = Buffer.from(encoded.data ?? []);
    const at = offset < 0 ? data.length + offset : offset;
    data[at] = data[at]! ^ 0x01;
    await expect(codec.decode([{ ...encoded, data }])).rejects.toThrow(/unable to authenticate data/);
  });

  it('refuses a truncated payload', async () => {
    const codec = new AesGcmCodec(KEY);
    const encoded = await encodeOne(codec, jsonPayload({ password: SECRET }));
    await expect(codec.decode([{ ...encoded, data: Buffer.from(encoded.data ?? []).subarray(0, 30) }])).rejects.toThrow();
  });

  it('refuses a payload encrypted under another key id, naming both ids', async () => {
    const encoded = await encodeOne(new AesGcmCodec(KEY, 'rotor-1'), jsonPayload({ password: SECRET }));
    const other = new AesGcmCodec(KEY, 'rotor-2');
    const error = await other.decode([encoded]).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ValueError);
    expect((error as Error).message).toBe('payload was encrypted with key "rotor-1", this codec holds "rotor-2"');
  });

  it('refuses a payload without a key id', async () => {
    const codec = new AesGcmCodec(KEY);
    const encoded = await encodeOne(codec, jsonPayload(1));
    const metadata = { [METADATA_ENCODING_KEY]: Buffer.from('binary/encrypted') };
    await expect(codec.decode([{ ...encoded, metadata }])).rejects.toThrow('payload was encrypted with key "", this codec holds "rotor-1"');
  });

  it('refuses a payload encrypted with a different key under the same id', async () => {
    const encoded = await encodeOne(new AesGcmCodec(KEY), jsonPayload({ password: SECRET }));
    await expect(new AesGcmCodec(randomBytes(32).toString('base64')).decode([encoded])).rejects.toThrow(/unable to authenticate data/);
  });

  it('passes payloads that are not encrypted through decode untouched', async () => {
    const codec = new AesGcmCodec(KEY);
    const json = jsonPayload({ hello: 'world' });
    const noMetadata: Payload = { data: Buffer.from('raw') };
    const decoded = await codec.decode([json, noMetadata]);
    expect(decoded[0]).toBe(json);
    expect(decoded[1]).toBe(noMetadata);
  });

  it.each([0, 16, 31, 33, 64])('refuses a %d-byte key', (bytes) => {
    expect(() => new AesGcmCodec(randomBytes(bytes).toString('base64'))).toThrow(new ValueError('codec key must be 32 bytes (base64)'));
  });
});

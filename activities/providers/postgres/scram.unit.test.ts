import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { scramVerifier } from './scram.js';

/*
 * An independent SCRAM-SHA-256 (RFC 5802 / RFC 7677) written from the RFC, without pbkdf2Sync,
 * checked against the RFC 7677 test vector and then used to verify scramVerifier's output the
 * way PostgreSQL's auth-scram.c checks a client proof.
 */
const hmac = (key: Buffer, data: string | Buffer) => createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();
const xor = (a: Buffer, b: Buffer) => Buffer.from(a.map((byte, i) => byte ^ b[i]!));

/** Hi(str, salt, i) from RFC 5802 §2.2: U1 = HMAC(str, salt ‖ INT(1)), Ui = HMAC(str, Ui-1), Hi = U1 ⊕ … ⊕ Ui. */
function hi(password: string, salt: Buffer, iterations: number): Buffer {
  const key = Buffer.from(password, 'utf8');
  let u = hmac(key, Buffer.concat([salt, Buffer.from([0, 0, 0, 1])]));
  let result = Buffer.from(u);
  for (let i = 1; i < iterations; i++) {
    u = hmac(key, u);
    result = xor(result, u);
  }
  return result;
}

function keys(password: string, salt: Buffer, iterations: number) {
  const salted = hi(password, salt, iterations);
  const clientKey = hmac(salted, 'Client Key');
  return { clientKey, storedKey: sha256(clientKey), serverKey: hmac(salted, 'Server Key') };
}

const VERIFIER = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2}):([A-Za-z0-9+/]+={0,2})$/;

function parseVerifier(verifier: string) {
  const m = VERIFIER.exec(verifier);
  if (!m) throw new Error(`not a SCRAM-SHA-256 verifier: ${verifier}`);
  return {
    iterations: Number(m[1]),
    salt: Buffer.from(m[2]!, 'base64'),
    storedKey: Buffer.from(m[3]!, 'base64'),
    serverKey: Buffer.from(m[4]!, 'base64'),
  };
}

/**
 * One SCRAM exchange: a client that knows `password` against a server that holds only `verifier`.
 * Returns whether the server accepts the client's proof and the client accepts the server's signature.
 */
function authenticate(verifier: string, password: string): { serverAccepts: boolean; clientAccepts: boolean } {
  const stored = parseVerifier(verifier);
  const authMessage = `n=,r=clientnonce,r=clientnonceservernonce,s=${stored.salt.toString('base64')},i=${stored.iterations},c=biws,r=clientnonceservernonce`;

  // Client side: derives its keys from the password and the salt/iterations the server sent.
  const client = keys(password, stored.salt, stored.iterations);
  const clientProof = xor(client.clientKey, hmac(client.storedKey, authMessage));

  // Server side (PostgreSQL verify_client_proof / verify_final_nonce): recover ClientKey, hash it, compare to StoredKey.
  const recoveredClientKey = xor(clientProof, hmac(stored.storedKey, authMessage));
  const serverAccepts = timingSafeEqual(sha256(recoveredClientKey), stored.storedKey);
  const serverSignature = hmac(stored.serverKey, authMessage);
  const clientAccepts = timingSafeEqual(serverSignature, hmac(client.serverKey, authMessage));
  return { serverAccepts, clientAccepts };
}

describe('the reference SCRAM implementation used by these tests', () => {
  it('reproduces the RFC 7677 §3 test vector (user "user", password "pencil")', () => {
    const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
    const authMessage =
      'n=user,r=rOprNGfwEbeRWgbNEkqO,' +
      'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,' +
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
    const { clientKey, storedKey, serverKey } = keys('pencil', salt, 4096);
    const clientProof = xor(clientKey, hmac(storedKey, authMessage));
    expect(clientProof.toString('base64')).toBe('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
    expect(hmac(serverKey, authMessage).toString('base64')).toBe('6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  });
});

describe('scramVerifier', () => {
  it('has the PostgreSQL format SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>', () => {
    const verifier = scramVerifier('correct horse battery staple');
    expect(verifier).toMatch(VERIFIER);
    const { iterations, salt, storedKey, serverKey } = parseVerifier(verifier);
    expect(iterations).toBe(4096);
    expect(salt).toHaveLength(16);
    expect(storedKey).toHaveLength(32);
    expect(serverKey).toHaveLength(32);
  });

  it('never contains the password', () => {
    const password = 'Zm9vYmFyYmF6cXV4';
    expect(scramVerifier(password)).not.toContain(password);
  });

  it('draws a fresh salt on every call', () => {
    const verifiers = Array.from({ length: 20 }, () => scramVerifier('same-password'));
    const salts = verifiers.map((v) => parseVerifier(v).salt.toString('base64'));
    expect(new Set(salts).size).toBe(20);
    expect(new Set(verifiers).size).toBe(20);
  });

  it.each(['correct horse battery staple', 'pencil', 'rYhT0-vJ_x3Kq9bW2mNcLpE8sZ4aF6dG', 'pässwörd ✓'])(
    'StoredKey and ServerKey recompute from the salt for %j',
    (password) => {
      const stored = parseVerifier(scramVerifier(password));
      const expected = keys(password.normalize('NFKC'), stored.salt, stored.iterations);
      expect(stored.storedKey.toString('base64')).toBe(expected.storedKey.toString('base64'));
      expect(stored.serverKey.toString('base64')).toBe(expected.serverKey.toString('base64'));
    },
  );

  it('authenticates the right password in a full SCRAM exchange and refuses a wrong one', () => {
    const verifier = scramVerifier('s3cret-pw');
    expect(authenticate(verifier, 's3cret-pw')).toEqual({ serverAccepts: true, clientAccepts: true });
    expect(authenticate(verifier, 's3cret-px')).toEqual({ serverAccepts: false, clientAccepts: false });
  });

  it('honours a custom iteration count', () => {
    const verifier = scramVerifier('pw', 8192);
    expect(verifier).toMatch(/^SCRAM-SHA-256\$8192:/);
    expect(authenticate(verifier, 'pw').serverAccepts).toBe(true);
  });

  it('normalises the password with NFKC, as SASLprep does', () => {
    // U+FB01 LATIN SMALL LIGATURE FI and U+2168 ROMAN NUMERAL NINE normalise to "fi" and "IX".
    const verifier = scramVerifier('\uFB01\u2168');
    expect(authenticate(verifier, 'fiIX').serverAccepts).toBe(true);
  });
});

import { generateKeyPairSync, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityRefused, IdentityTokenVerifier, signedContent } from './identity-token.js';

/** Vault's identity tokens, made here with a key of our own and served as Vault publishes them. */
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const KID = 'test-key';
const ISSUER = 'http://vault.test/v1/identity/oidc';
const AUDIENCE = 'rotor-client-id';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
function mint(claims: Record<string, unknown> = {}, kid = KID): string {
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: 'RS256', kid })}.${b64({ iss: ISSUER, aud: AUDIENCE, sub: 'entity-1', iat: now, exp: now + 120, username: 'carol', groups: ['approvers'], ...claims })}`;
  return `${body}.${sign('sha256', Buffer.from(body), privateKey).toString('base64url')}`;
}

describe('IdentityTokenVerifier', () => {
  let server: Server;
  let verifier: IdentityTokenVerifier;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' }] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    verifier = new IdentityTokenVerifier(`http://127.0.0.1:${(server.address() as AddressInfo).port}/keys`, ISSUER, AUDIENCE);
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const refusal = (token: string) =>
    verifier.verify(token).then(
      () => 'accepted',
      (err: unknown) => (err instanceof IdentityRefused ? err.message : `unexpected: ${String(err)}`),
    );

  it('accepts a token Vault signed for rotor, naming the entity, its name and groups', async () => {
    expect(await verifier.verify(mint())).toEqual({ entityId: 'entity-1', name: 'carol', groups: ['approvers'] });
  });

  it('refuses every re-spelling of a token: one signed content, one token', async () => {
    const token = mint();
    const [h, c, sig] = token.split('.') as [string, string, string];
    // The last character of an RS256 signature carries unused bits: flip them to a same-bytes spelling.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(sig.at(-1)!);
    const sameBytes = `${sig.slice(0, -1)}${alphabet[last ^ 1]}`;
    expect(Buffer.from(sameBytes, 'base64url').equals(Buffer.from(sig, 'base64url'))).toBe(true);
    for (const variant of [`${h}.${c}.${sig}=`, `${h}.${c}.${sig}!`, `${h}.${c}.*${sig}`, `${h}.${c}.${sameBytes}`, `${h}=.${c}.${sig}`]) {
      expect(await refusal(variant)).toMatch(/not canonical base64url/);
      expect(signedContent(variant).replace(/=/g, '')).toBe(`${h}.${c}`);
    }
    expect(await refusal(token)).toBe('accepted');
  });

  it('refuses a forged, expired, foreign, long-lived or unknown-key token, naming why', async () => {
    const [h, , sig] = mint().split('.') as [string, string, string];
    expect(await refusal(`${h}.${b64({ iss: ISSUER, aud: AUDIENCE, sub: 'entity-2', username: 'mallory' })}.${sig}`)).toMatch(
      /signature does not verify/,
    );
    const now = Math.floor(Date.now() / 1000);
    expect(await refusal(mint({ iat: now - 600, exp: now - 300 }))).toMatch(/expired/);
    expect(await refusal(mint({ aud: 'another-app' }))).toMatch(/another audience/);
    expect(await refusal(mint({ iss: 'http://elsewhere/v1/identity/oidc' }))).toMatch(/issuer/);
    expect(await refusal(mint({ exp: now + 86_400 }))).toMatch(/lifetime/);
    expect(await refusal(mint({ username: undefined }))).toMatch(/username/);
    // Keys were fetched moments ago: an unknown key is checked again shortly (the activity retries).
    expect(await refusal(mint({}, 'other-key'))).toMatch(/^unexpected: .*checking again shortly/);
    // Fetched afresh, a key Vault does not publish is refused for good.
    const fresh = new IdentityTokenVerifier(`http://127.0.0.1:${(server.address() as AddressInfo).port}/keys`, ISSUER, AUDIENCE);
    expect(await fresh.verify(mint({}, 'other-key')).catch((e: unknown) => (e as Error).message)).toMatch(/which Vault does not publish/);
    expect(await refusal('not.a-jwt')).toMatch(/three parts/);
  });
});

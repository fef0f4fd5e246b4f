import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';

/** What a verified Vault identity token says about its bearer. */
export interface VerifiedIdentity {
  /** The Vault identity entity id (`sub`): stable, unique, what "the same person" means. */
  entityId: string;
  /** The entity's name (`username` claim of rotor's identity role template). */
  name: string;
  /** Names of the identity groups the entity belongs to when the token was minted. */
  groups: string[];
}

/** A token that does not prove an identity to rotor; the message says why, never the token. */
export class IdentityRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IdentityRefused';
  }
}

interface Jwk extends JsonWebKey {
  kid?: string;
  alg?: string;
}

/** node:crypto's name and signature encoding for each JOSE algorithm Vault identity keys use. */
const ALGORITHMS: Record<string, { digest: string | null; dsaEncoding?: 'ieee-p1363' }> = {
  RS256: { digest: 'sha256' },
  RS384: { digest: 'sha384' },
  RS512: { digest: 'sha512' },
  ES256: { digest: 'sha256', dsaEncoding: 'ieee-p1363' },
  ES384: { digest: 'sha384', dsaEncoding: 'ieee-p1363' },
  ES512: { digest: 'sha512', dsaEncoding: 'ieee-p1363' },
  EdDSA: { digest: null },
};

/** Tokens minted a moment ago by another machine: tolerate this much clock difference. */
const CLOCK_SKEW_S = 30;
/** rotor's role mints 2-minute tokens; one that claims to live longer was not minted for one action. */
const MAX_LIFETIME_S = 15 * 60;
/** Vault rotates and revokes signing keys: the published set is fetched again after this long. */
const KEYS_TTL_MS = 5 * 60_000;
/** An unknown key id refetches the keys, but not more often than this (a flood of forged kids). */
const UNKNOWN_KID_REFETCH_MS = 10_000;

/**
 * Node's base64url decoder skips stray characters and ignores unused bits, so "sig", "sig=" and
 * "sig!" verify alike: a copied token re-spelled would pass as a new one. Only the one canonical
 * spelling of each part is accepted.
 */
function canonicalPart(part: string): boolean {
  return /^[A-Za-z0-9_-]+$/.test(part) && Buffer.from(part, 'base64url').toString('base64url') === part;
}

/** What makes two tokens the same token: the signed content (header and claims), not its spelling. */
export function signedContent(token: string): string {
  const [header = '', claims = ''] = token.split('.');
  return `${header}.${claims}`;
}

function decodePart<T>(part: string | undefined, what: string): T {
  try {
    return JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as T;
  } catch {
    throw new IdentityRefused(`the identity token's ${what} is not base64url JSON: send a token from identity/oidc/token/rotor`);
  }
}

/**
 * Verifies a Vault identity token (a JWT signed by one of the keys Vault publishes at
 * identity/oidc/.well-known/keys): signature, issuer, audience, expiry. The keys are fetched once
 * and again when a token names a key id not seen yet (Vault rotates its keys).
 */
export class IdentityTokenVerifier {
  private keys = new Map<string, KeyObject>();
  private fetchedAt = 0;

  constructor(
    private readonly jwksUrl: string,
    private readonly issuer: string,
    private readonly audience: string,
  ) {}

  async verify(token: string, now = Date.now()): Promise<VerifiedIdentity> {
    const parts = token.split('.');
    if (parts.length !== 3)
      throw new IdentityRefused('not an identity token (expected a JWT with three parts): mint one with `rotor login`');
    if (!parts.every(canonicalPart))
      throw new IdentityRefused('the identity token is not canonical base64url (altered after it was minted)');
    const header = decodePart<{ alg?: string; kid?: string }>(parts[0], 'header');
    const alg = ALGORITHMS[header.alg ?? ''];
    if (!alg || !header.kid) throw new IdentityRefused(`identity token algorithm "${header.alg}" or key id not accepted`);
    const key = await this.key(header.kid);
    const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
    const signature = Buffer.from(parts[2]!, 'base64url');
    const ok = alg.dsaEncoding
      ? verify(alg.digest, signed, { key, dsaEncoding: alg.dsaEncoding }, signature)
      : verify(alg.digest, signed, key, signature);
    if (!ok) throw new IdentityRefused("the identity token signature does not verify against Vault's published keys");
    const claims = decodePart<{
      iss?: string;
      aud?: string | string[];
      sub?: string;
      exp?: number;
      nbf?: number;
      iat?: number;
      username?: unknown;
      groups?: unknown;
    }>(parts[1], 'claims');
    if (claims.iss !== this.issuer) throw new IdentityRefused(`identity token issuer "${claims.iss}" is not ${this.issuer}`);
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.includes(this.audience))
      throw new IdentityRefused("identity token is for another audience: mint it from rotor's role (identity/oidc/token/rotor)");
    const nowS = now / 1000;
    if (typeof claims.exp !== 'number' || claims.exp + CLOCK_SKEW_S < nowS)
      throw new IdentityRefused('identity token expired: mint a fresh one (the CLI does so for every command)');
    if (typeof claims.nbf === 'number' && claims.nbf - CLOCK_SKEW_S > nowS) throw new IdentityRefused('identity token is not valid yet');
    if (typeof claims.iat !== 'number' || claims.exp - claims.iat > MAX_LIFETIME_S || claims.iat - CLOCK_SKEW_S > nowS)
      throw new IdentityRefused(
        `identity token lifetime is not that of one action (at most ${MAX_LIFETIME_S / 60} minutes from its issue)`,
      );
    if (typeof claims.sub !== 'string' || !claims.sub) throw new IdentityRefused('identity token names no entity (sub)');
    if (typeof claims.username !== 'string' || !claims.username)
      throw new IdentityRefused('identity token carries no username claim: the rotor identity role template must set "username"');
    const groups = Array.isArray(claims.groups) ? claims.groups.filter((g): g is string => typeof g === 'string') : [];
    return { entityId: claims.sub, name: claims.username, groups };
  }

  private async key(kid: string): Promise<KeyObject> {
    const age = Date.now() - this.fetchedAt;
    const known = age < KEYS_TTL_MS ? this.keys.get(kid) : undefined;
    if (known) return known;
    // A plain error: the activity is retried, and by then the keys may be fetched again (a key
    // Vault created moments ago is then accepted; one it never published is refused).
    if (age < UNKNOWN_KID_REFETCH_MS)
      throw new Error(`identity token signed by key "${kid}", not among Vault's keys fetched moments ago; checking again shortly`);
    const response = await fetch(this.jwksUrl, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`Vault's identity keys (${this.jwksUrl}) answered HTTP ${response.status}`);
    const { keys } = (await response.json()) as { keys?: Jwk[] };
    this.keys = new Map((keys ?? []).filter((k) => k.kid).map((k) => [k.kid!, createPublicKey({ key: k, format: 'jwk' })]));
    this.fetchedAt = Date.now();
    const found = this.keys.get(kid);
    if (!found) throw new IdentityRefused(`identity token signed by key "${kid}", which Vault does not publish (revoked or foreign)`);
    return found;
  }
}

/*
 * rotor's mint marker: a user tag set just before CreateAccessKey and removed once the new key is
 * staged in Vault. A worker that dies in between (or a CreateAccessKey whose answer never came)
 * leaves a key whose secret nobody holds; the marker is how a later mint recognises that key as
 * rotor's own leftover and deletes it. IAM access keys carry no tags of their own and the key's id
 * is unknown until it exists, hence a user tag. Pure: no AWS SDK here, so the rule is unit-tested.
 */

/** The user tag's key. */
export const MINT_MARKER = 'rotor-minting';

/**
 * A leftover's CreateDate is at most this long after the marker: TagUser, then CreateAccessKey at
 * once (each call times out after 20 s, CreateAccessKey is never retried by the SDK).
 */
export const MINT_WINDOW_MS = 60_000;

/**
 * How far the worker's clock (the marker's time) and IAM's (CreateDate, one-second precision) may
 * disagree, either way. A key outside [marker - skew, marker + window + skew] is never a leftover.
 */
export const CLOCK_SKEW_MS = 15_000;

/** What the marker records: when the mint began (the worker's clock) and the keys the user had then. */
export interface MintMarker {
  at: number;
  keysBefore: readonly string[];
}

/** Marks the format that lists the keys; the first release's marker was a bare time. */
const MARKER_VERSION = 'v2';

/**
 * The tag's value: "v2 <ISO time> <key id> <key id>". IAM tag values allow letters, digits, spaces and
 * `_.:/=+-@` (no comma) and 256 characters; a user has at most two keys, so it fits.
 */
export function formatMarker(marker: MintMarker): string {
  return [MARKER_VERSION, new Date(marker.at).toISOString(), ...marker.keysBefore].join(' ');
}

/**
 * The marker in a tag value, or undefined when it is not one this version wrote: the first
 * release's marker (a bare time) does not say which keys existed, so it recognises no key.
 */
export function parseMarker(value: string | undefined): MintMarker | undefined {
  const [version, time, ...ids] = (value ?? '').trim().split(/\s+/);
  if (version !== MARKER_VERSION || !time || !/^\d{4}-\d{2}-\d{2}T[\d:.]+Z$/.test(time)) return undefined;
  const at = Date.parse(time);
  return Number.isNaN(at) ? undefined : { at, keysBefore: ids };
}

/**
 * A marker (or a tag value that is none) which no mint in progress can still need: unreadable, or
 * further from `now` than the window plus the skew (either way: a clock that jumped back counts).
 * Removed whenever rotor sees it, so it cannot match a key created later.
 */
export const isStaleMarker = (marker: MintMarker | undefined, now: number): boolean =>
  marker === undefined || Math.abs(now - marker.at) > MINT_WINDOW_MS + CLOCK_SKEW_MS;

/** The few facts about a key the rule reads (IAM's AccessKeyMetadata has them all). */
export interface KeyFacts {
  AccessKeyId?: string | undefined;
  Status?: string | undefined;
  CreateDate?: Date | undefined;
}

/**
 * Whether `key` may be the leftover of the mint `marker` records, as far as its metadata says: Active,
 * not one of the keys the user had before that mint, created within the window after the marker
 * (clock skew allowed either way). The caller must also prove it was never used (GetAccessKeyLastUsed):
 * its secret was only in the memory of a worker that died, so nothing can have signed with it.
 */
export function mayBeLeftover(key: KeyFacts, marker: MintMarker | undefined): boolean {
  if (!marker || key.Status !== 'Active' || !key.CreateDate || !key.AccessKeyId) return false;
  if (marker.keysBefore.includes(key.AccessKeyId)) return false;
  const created = key.CreateDate.getTime();
  return created >= marker.at - CLOCK_SKEW_MS && created <= marker.at + MINT_WINDOW_MS + CLOCK_SKEW_MS;
}

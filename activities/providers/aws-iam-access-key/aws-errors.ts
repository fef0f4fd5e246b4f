/*
 * AWS SDK errors, reduced to what rotor may repeat: the error code, the HTTP status and the
 * server's message with every known secret removed. SDK errors carry the request ($metadata,
 * sometimes the signed request's headers in `$response`), so the raw error is never logged or
 * thrown on.
 */

/** The few things rotor reads from an AWS SDK error. */
export interface AwsFailure {
  /** The AWS error code ("InvalidClientTokenId", "NoSuchEntity"), or a network error's name. */
  code: string;
  /** The HTTP status, undefined when no answer came (network error, timeout). */
  status: number | undefined;
  /** The server's message (or the network error's), secrets removed, at most 300 characters. */
  message: string;
}

/** The error codes with which AWS refuses the key a request was signed with. */
const REFUSED_KEY = new Set([
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'UnrecognizedClientException',
  'AuthFailure',
  'InvalidAccessKeyId',
]);

/** Codes that say "try again later", whatever the status. */
const TRANSIENT = new Set(['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'ServiceUnavailable', 'InternalFailure']);

/** `err` as an AwsFailure; `secrets` are removed from the message (values shorter than 6 characters are not secrets). */
export function awsFailure(err: unknown, secrets: readonly string[]): AwsFailure {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    name?: unknown;
    Code?: unknown;
    code?: unknown;
    message?: unknown;
    $metadata?: { httpStatusCode?: unknown };
  };
  // Modelled errors are named "<Code>Exception" (NoSuchEntityException); unmodelled ones by their code.
  const raw = typeof e.Code === 'string' ? e.Code : typeof e.name === 'string' && e.name !== 'Error' ? e.name : String(e.code ?? 'Error');
  const code = raw.endsWith('Exception') && raw !== 'Exception' && !TRANSIENT.has(raw) ? raw.slice(0, -'Exception'.length) : raw;
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  let message = typeof e.message === 'string' ? e.message : '';
  for (const s of secrets) if (s.length >= 6) message = message.split(s).join('[redacted]');
  // AWS echoes the string it signed in some SignatureDoesNotMatch answers: long, useless, never shown.
  message = message.replace(/\s+/g, ' ').slice(0, 300);
  return { code, status, message };
}

/** The request was answered with a refusal of the key it was signed with. */
export const isRefusedKey = (f: AwsFailure): boolean => REFUSED_KEY.has(f.code);

/** Nothing or a 5xx/throttling answered: retrying may help. */
export const isTransient = (f: AwsFailure): boolean =>
  f.status === undefined || f.status >= 500 || f.status === 429 || TRANSIENT.has(f.code);

/** "NoSuchEntity (HTTP 404): message" for an error message. */
export const describe = (f: AwsFailure): string =>
  `${f.code}${f.status === undefined ? '' : ` (HTTP ${f.status})`}${f.message ? `: ${f.message}` : ''}`;

import { z } from 'zod';
import { adminCredentialRule, type ProviderTraits } from '../traits.js';

/*
 * Pure zod: config/inventory-schema.ts builds the inventory's `provider:` union from this file, so
 * it must not import @aws-sdk/* or anything else with side effects.
 */

/** IAM's own rule for user names (CreateUser): 1-64 of letters, digits and `+=,.@_-`. */
const IAM_USER_NAME = /^[\w+=,.@-]{1,64}$/;
/** An AWS region name such as "us-east-1" or "eu-central-2". */
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

const ENDPOINT_HINT =
  'endpoint must be an http(s) URL such as "https://iam.example.internal" or "http://127.0.0.1:5016", or left out for AWS';

/** 127.0.0.0/8, ::1 or localhost: a URL's hostname (WHATWG-normalised: "127.1" is "127.0.0.1", IPv6 in brackets). */
export const isLoopback = (hostname: string): boolean =>
  /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname) || hostname === '[::1]' || hostname === 'localhost' || hostname === 'localhost.';

/** The inventory's `provider:` entry of an AWS IAM access key secret. */
export const iamSpec = z.strictObject({
  type: z.literal('aws-iam-access-key'),
  /**
   * KV path of the admin credential `{accessKeyId, secretAccessKey}` of an IAM principal allowed
   * iam:CreateAccessKey, UpdateAccessKey, DeleteAccessKey, ListAccessKeys, GetAccessKeyLastUsed,
   * TagUser, UntagUser and ListUserTags on `userName`.
   */
  adminPath: z
    .string({ error: 'adminPath is required: the KV path of the admin access key, e.g. "_rotor/admin/demo-iam"' })
    .min(1, 'the KV path of the admin access key, e.g. "_rotor/admin/demo-iam"'),
  /** The IAM user whose access keys rotate (one user: a key carries the user's policies, so a new key can do what the old one could). */
  userName: z
    .string({ error: 'userName is required: the IAM user whose access keys rotate, e.g. "demo-app"' })
    .regex(IAM_USER_NAME, 'an IAM user name: 1-64 letters, digits or +=,.@_- (e.g. "demo-app")'),
  /**
   * An IAM-compatible endpoint (a local test server); unset: AWS itself. CreateAccessKey's answer
   * carries the new secret, so plain http: only to this machine (loopback).
   */
  endpoint: z
    .string({ error: ENDPOINT_HINT })
    .refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), { message: ENDPOINT_HINT })
    .refine((s) => !URL.canParse(s) || new URL(s).protocol !== 'http:' || isLoopback(new URL(s).hostname), {
      message:
        'provider.endpoint must use https: - CreateAccessKey answers with the new secret access key, which plain http: ' +
        'would send in clear; http: is allowed only to a loopback host (127.0.0.0/8, ::1, localhost), e.g. "http://127.0.0.1:5016"',
      abort: true,
    })
    .optional(),
  region: z
    .string({ error: 'region must be an AWS region name such as "us-east-1"' })
    .regex(REGION, 'an AWS region name such as "us-east-1"')
    .default('us-east-1'),
  /**
   * IAM allows two keys per user. When the user already has two and the one that is not current is
   * Inactive, rotor deletes it to make room only when this is true; an Active one is never deleted.
   */
  deleteInactiveKey: z.boolean({ error: 'deleteInactiveKey must be true or false' }).default(false),
});

/** What consumers read at the secret's KV path; extra string fields are kept as they are. */
export const iamCredential = z
  .object({
    accessKeyId: z.string(),
    secretAccessKey: z.string(),
    userName: z.string(),
  })
  .catchall(z.string());

export type IamSpec = z.infer<typeof iamSpec>;
export type IamCredential = z.infer<typeof iamCredential>;

/** The secret's admin access key only; no sessions to observe (access keys open none), no break-glass. */
export const iamTraits: ProviderTraits<IamSpec> = {
  secretRules: (spec, ctx) => [adminCredentialRule(spec.adminPath, ctx)],
  // One user's keys, whichever admin credential reaches them: two secrets would fight over its two slots.
  targets: (spec) => [`aws-iam|${spec.endpoint ?? 'aws'}|${spec.userName}`],
};

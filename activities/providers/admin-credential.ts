import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { FailureType } from '../../workflows/failure-types.js';
import type { ActivityContext } from '../activity-context.js';
import { parseCredential } from './parse-credential.js';

/**
 * Admin credentials are read from Vault at most every ADMIN_CACHE_MS per worker: a rotation reads
 * it in every step, and an incident rotates hundreds of secrets of one target at once. A credential
 * changed in Vault is picked up within that window (a failed admin login is retried meanwhile).
 */
const ADMIN_CACHE_MS = 10_000;

/**
 * The admin credential a provider uses at its target, read from Vault (never from config) and
 * checked against the provider's admin schema. The one place rotor reads admin credentials:
 * rotations and break-glass grants both come here.
 */
export async function readAdminCredential<T>(ctx: ActivityContext, schema: z.ZodType<T>, path: string, secretId: string): Promise<T> {
  const mount = ctx.env.ROTOR_VAULT_KV_MOUNT;
  const data = await ctx.providerCaches.remembered(
    `admin-credential|${mount}|${path}`,
    ADMIN_CACHE_MS,
    // With the secret's own token: the admin credential is in its policy, not the worker's.
    async () => (await ctx.vault.forSecret(secretId).run((v) => v.kvRead<unknown>(mount, path)))?.data,
  );
  if (data === undefined) {
    throw ApplicationFailure.nonRetryable(
      `the admin credential for "${secretId}" is missing at ${mount}/${path}`,
      FailureType.MissingAdminCredential,
    );
  }
  return parseCredential(schema, data, `the admin credential at ${mount}/${path}`);
}

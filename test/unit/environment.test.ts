import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EnvironmentError, loadEnvironment } from '../../config/environment.js';

const CODEC_KEY = randomBytes(32).toString('base64');

/** Only the required variables: everything else takes its default. */
const required = {
  ROTOR_VAULT_ADDR: 'http://127.0.0.1:8200',
  ROTOR_VAULT_ROLE_ID: 'role-id-123',
  ROTOR_VAULT_SECRET_ID: 'secret-id-456',
  ROTOR_DATABASE_URL: 'postgres://rotor:pw@127.0.0.1:5432/rotor',
  ROTOR_CODEC_KEY: CODEC_KEY,
} satisfies NodeJS.ProcessEnv;

/** The issues of an environment loadEnvironment must refuse; fails the test otherwise. */
function issuesOf(env: NodeJS.ProcessEnv): string[] {
  let caught: unknown;
  try {
    loadEnvironment(env);
  } catch (err) {
    caught = err;
  }
  expect(caught, 'the environment should have been refused').toBeInstanceOf(EnvironmentError);
  const error = caught as EnvironmentError;
  expect(error.name).toBe('EnvironmentError');
  expect(error.message).toBe(`rotor configuration is invalid:\n${error.issues.map((i) => `  - ${i}`).join('\n')}`);
  return error.issues;
}

describe('loadEnvironment', () => {
  it('fills in defaults around the required variables', () => {
    expect(loadEnvironment({ ...required })).toEqual({
      ...required,
      ROTOR_TEMPORAL_ADDRESS: '127.0.0.1:7233',
      ROTOR_TEMPORAL_NAMESPACE: 'default',
      ROTOR_TEMPORAL_TLS: 'false',
      ROTOR_TASK_QUEUE: 'rotor',
      ROTOR_VAULT_KV_MOUNT: 'rotor',
      ROTOR_INVENTORY: 'config/inventory.example.yaml',
      ROTOR_LOG_LEVEL: 'info',
      ROTOR_RECONCILE_SCHEDULES: 'true',
      ROTOR_CODEC_PORT: 0,
      ROTOR_SHUTDOWN_GRACE: '30s',
    });
  });

  it('health and shutdown settings: host:port and a duration, each error naming its variable', () => {
    expect(loadEnvironment({ ...required, ROTOR_HEALTH_LISTEN: '0.0.0.0:8081', ROTOR_SHUTDOWN_GRACE: '2m' })).toMatchObject({
      ROTOR_HEALTH_LISTEN: '0.0.0.0:8081',
      ROTOR_SHUTDOWN_GRACE: '2m',
    });
    // Empty is unset, as compose passes `${VAR:-}`.
    const empty = loadEnvironment({ ...required, ROTOR_HEALTH_LISTEN: '', ROTOR_IDENTITY_AUDIENCE: '', ROTOR_IDENTITY_ISSUER: '' });
    expect([empty.ROTOR_HEALTH_LISTEN, empty.ROTOR_IDENTITY_AUDIENCE, empty.ROTOR_IDENTITY_ISSUER]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    // The Temporal runtime's metrics exporter binds an IP address only.
    expect(issuesOf({ ...required, ROTOR_METRICS_LISTEN: 'localhost:9464' })).toEqual([
      'ROTOR_METRICS_LISTEN: ROTOR_METRICS_LISTEN needs an IP address, not a host name, e.g. "0.0.0.0:9464"',
    ]);
    const issues = issuesOf({ ...required, ROTOR_HEALTH_LISTEN: '8081', ROTOR_SHUTDOWN_GRACE: 'a minute' });
    expect(issues).toEqual([
      'ROTOR_HEALTH_LISTEN: ROTOR_HEALTH_LISTEN must be host:port, e.g. "0.0.0.0:8081"',
      'ROTOR_SHUTDOWN_GRACE: must be a duration such as "30s" or "2m"',
    ]);
  });

  it('returns typed values from a full environment', () => {
    const env = loadEnvironment({
      ...required,
      ROTOR_DATABASE_URL: 'postgresql://rotor@db.internal/rotor?sslmode=require',
      ROTOR_TEMPORAL_ADDRESS: 'temporal:7233',
      ROTOR_TEMPORAL_NAMESPACE: 'rotor-prod',
      ROTOR_TASK_QUEUE: 'rotor-q',
      ROTOR_VAULT_KV_MOUNT: 'secrets',
      ROTOR_INVENTORY: '/etc/rotor/inventory.yaml',
      ROTOR_LOG_LEVEL: 'debug',
      ROTOR_CODEC_PORT: '8888',
      UNRELATED: 'ignored',
    });
    expect(env.ROTOR_CODEC_PORT).toBe(8888);
    expect(typeof env.ROTOR_CODEC_PORT).toBe('number');
    expect(env).toMatchObject({
      ROTOR_DATABASE_URL: 'postgresql://rotor@db.internal/rotor?sslmode=require',
      ROTOR_TEMPORAL_ADDRESS: 'temporal:7233',
      ROTOR_TEMPORAL_NAMESPACE: 'rotor-prod',
      ROTOR_TASK_QUEUE: 'rotor-q',
      ROTOR_VAULT_KV_MOUNT: 'secrets',
      ROTOR_INVENTORY: '/etc/rotor/inventory.yaml',
      ROTOR_LOG_LEVEL: 'debug',
      ROTOR_VAULT_ADDR: 'http://127.0.0.1:8200',
      ROTOR_CODEC_KEY: CODEC_KEY,
    });
    expect(env).not.toHaveProperty('UNRELATED');
  });

  it('names each bad variable, marking the missing one "(not set)"', () => {
    const issues = issuesOf({
      ...required,
      ROTOR_VAULT_ADDR: undefined,
      ROTOR_CODEC_KEY: randomBytes(16).toString('base64'),
      ROTOR_DATABASE_URL: 'mysql://rotor@127.0.0.1/rotor',
    });
    expect(issues).toEqual([
      'ROTOR_VAULT_ADDR: must be an http(s) URL such as http://127.0.0.1:8200 (not set)',
      "ROTOR_DATABASE_URL: must be a postgres:// URL to rotor's own database",
      'ROTOR_CODEC_KEY: must be 32 random bytes, base64-encoded (openssl rand -base64 32)',
    ]);
  });

  it('an empty environment lists every required variable as "(not set)"', () => {
    const issues = issuesOf({});
    expect(issues.map((i) => i.split(':')[0])).toEqual([
      'ROTOR_VAULT_ADDR',
      'ROTOR_VAULT_ROLE_ID',
      'ROTOR_VAULT_SECRET_ID',
      'ROTOR_DATABASE_URL',
      'ROTOR_CODEC_KEY',
    ]);
    for (const issue of issues) expect(issue).toMatch(/ \(not set\)$/);
  });

  it.each([31, 33, 64])('refuses a codec key of %d bytes', (bytes) => {
    expect(issuesOf({ ...required, ROTOR_CODEC_KEY: randomBytes(bytes).toString('base64') })).toEqual([
      'ROTOR_CODEC_KEY: must be 32 random bytes, base64-encoded (openssl rand -base64 32)',
    ]);
  });

  it('a set but invalid variable is not marked "(not set)"', () => {
    const issues = issuesOf({ ...required, ROTOR_VAULT_ADDR: 'not a url', ROTOR_VAULT_ROLE_ID: '' });
    expect(issues).toEqual([
      'ROTOR_VAULT_ADDR: must be an http(s) URL such as http://127.0.0.1:8200',
      'ROTOR_VAULT_ROLE_ID: the worker AppRole role_id is required',
    ]);
  });

  it('refuses an unknown log level and a non-numeric codec port', () => {
    const issues = issuesOf({ ...required, ROTOR_LOG_LEVEL: 'loud', ROTOR_CODEC_PORT: 'eighty' });
    expect(issues).toHaveLength(2);
    expect(issues[0]).toMatch(/^ROTOR_LOG_LEVEL: .*"trace"\|"debug"\|"info"\|"warn"\|"error"/);
    expect(issues[1]).toMatch(/^ROTOR_CODEC_PORT: /);
  });

  it('refuses a codec port out of range', () => {
    expect(issuesOf({ ...required, ROTOR_CODEC_PORT: '70000' })).toHaveLength(1);
    expect(issuesOf({ ...required, ROTOR_CODEC_PORT: '-1' })[0]).toMatch(/^ROTOR_CODEC_PORT: /);
  });

  it('refuses a ROTOR_VAULT_ADDR that does not parse as a URL', () => {
    expect(issuesOf({ ...required, ROTOR_VAULT_ADDR: '127.0.0.1:8200' })).toEqual([
      'ROTOR_VAULT_ADDR: must be an http(s) URL such as http://127.0.0.1:8200',
    ]);
  });

  it.each(['openbao:8200', 'localhost:8200', 'ftp://vault:8200'])('refuses a ROTOR_VAULT_ADDR without an http(s) scheme: %s', (addr) => {
    expect(issuesOf({ ...required, ROTOR_VAULT_ADDR: addr })).toEqual([
      'ROTOR_VAULT_ADDR: must be an http(s) URL such as http://127.0.0.1:8200',
    ]);
  });
  it('takes the identity audience and issuer a worker verifies tokens against; the issuer must be an http(s) URL', () => {
    const env = loadEnvironment({
      ...required,
      ROTOR_IDENTITY_AUDIENCE: 'client-id-1',
      ROTOR_IDENTITY_ISSUER: 'https://vault.internal/v1/identity/oidc',
    });
    expect(env).toMatchObject({ ROTOR_IDENTITY_AUDIENCE: 'client-id-1', ROTOR_IDENTITY_ISSUER: 'https://vault.internal/v1/identity/oidc' });
    expect(loadEnvironment({ ...required })).not.toHaveProperty('ROTOR_IDENTITY_AUDIENCE');
    expect(issuesOf({ ...required, ROTOR_IDENTITY_ISSUER: 'vault/v1/identity/oidc' })).toEqual([
      'ROTOR_IDENTITY_ISSUER: must be the http(s) issuer URL of Vault identity tokens',
    ]);
  });
});

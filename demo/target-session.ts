import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createClient } from 'redis';

/**
 * What a demo consumer keeps open with one credential version, per kind of target: a connection
 * pool for databases (so observed cutover sees its sessions), a client for Redis, an STS client
 * for an access key. The demo's stand-in for "your service"; not part of rotor.
 */
export interface TargetSession {
  /** Resolves when the credential still works (a real round trip). */
  check(): Promise<void>;
  /** One unit of application work: SQL for databases, a command line ("GET app:1") for Redis; ignored for access keys. */
  work(statement: string): Promise<void>;
  close(): Promise<void>;
}

/** The provider types the demo consumer can use; the credential is what rotor stores at the secret's path. */
export type TargetKind = 'postgres' | 'mysql' | 'redis-acl' | 'aws-iam-access-key';

export const TARGET_KINDS: readonly TargetKind[] = ['postgres', 'mysql', 'redis-acl', 'aws-iam-access-key'];

const field = (credential: Record<string, string>, name: string): string => {
  const value = credential[name];
  if (value === undefined) throw new Error(`the credential has no field "${name}"`);
  return value;
};

async function postgresSession(c: Record<string, string>, clientName: string): Promise<TargetSession> {
  const pool = new pg.Pool({
    host: field(c, 'host'),
    port: Number(field(c, 'port')),
    user: field(c, 'username'),
    password: field(c, 'password'),
    database: field(c, 'database'),
    application_name: clientName,
    max: 2,
    idleTimeoutMillis: 0,
  });
  pool.on('error', () => undefined); // a revoked credential's sessions may be terminated under us
  const session: TargetSession = {
    check: async () => void (await pool.query('SELECT 1')),
    work: async (sql) => void (await pool.query(sql)),
    close: () => pool.end().catch(() => undefined),
  };
  await session.check();
  return session;
}

async function mysqlSession(c: Record<string, string>, clientName: string): Promise<TargetSession> {
  const pool = mysql.createPool({
    host: field(c, 'host'),
    port: Number(field(c, 'port')),
    user: field(c, 'username'),
    password: field(c, 'password'),
    ...(c.database ? { database: c.database } : {}),
    connectAttributes: { program_name: clientName },
    connectionLimit: 2,
    // Idle connections stay open, as an application's pool does: observed cutover sees them.
    idleTimeout: 24 * 3600_000,
  });
  pool.on('connection', (conn) => conn.on('error', () => undefined));
  const session: TargetSession = {
    check: async () => void (await pool.query('SELECT 1')),
    work: async (sql) => void (await pool.query(sql)),
    close: () => pool.end().catch(() => undefined),
  };
  await session.check();
  return session;
}

async function redisSession(c: Record<string, string>, clientName: string): Promise<TargetSession> {
  const client = createClient({
    socket: { host: field(c, 'host'), port: Number(field(c, 'port')), reconnectStrategy: false },
    username: field(c, 'username'),
    password: field(c, 'password'),
    name: clientName,
  });
  client.on('error', () => undefined); // a killed client reports here; the next command fails and says so
  await client.connect();
  const session: TargetSession = {
    check: async () => void (await client.ping()),
    work: async (line) => void (await client.sendCommand(line.split(/\s+/).filter(Boolean))),
    close: async () => {
      if (client.isOpen) await client.close().catch(() => client.destroy());
    },
  };
  await session.check();
  return session;
}

async function accessKeySession(c: Record<string, string>): Promise<TargetSession> {
  const sts = new STSClient({
    region: c.region ?? 'us-east-1',
    ...(c.endpoint ? { endpoint: c.endpoint } : {}),
    credentials: { accessKeyId: field(c, 'accessKeyId'), secretAccessKey: field(c, 'secretAccessKey') },
    maxAttempts: 1,
  });
  const session: TargetSession = {
    check: async () => void (await sts.send(new GetCallerIdentityCommand({}))),
    work: () => session.check(),
    close: async () => sts.destroy(),
  };
  await session.check();
  return session;
}

/** Opens a session as `credential`; `clientName` is what the target shows for it (application_name, CLIENT SETNAME). */
export function openTargetSession(kind: TargetKind, credential: Record<string, string>, clientName: string): Promise<TargetSession> {
  switch (kind) {
    case 'postgres':
      return postgresSession(credential, clientName);
    case 'mysql':
      return mysqlSession(credential, clientName);
    case 'redis-acl':
      return redisSession(credential, clientName);
    case 'aws-iam-access-key':
      return accessKeySession(credential);
  }
}

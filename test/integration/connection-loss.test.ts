import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotorDatabasePool } from '../../workers/create-worker.js';
import { createLogger, startTestStack, superuserClient, type TestStack } from '../helpers/test-stack.js';

/**
 * PostgreSQL ending a connection the worker has checked out (a restart, a failover, an operator's
 * pg_terminate_backend) makes pg emit 'error' on that client; unheard, it would crash the worker
 * process (npm run chaos found it: PostgreSQL shut down mid-rotation left the rotation stuck).
 */
describe("the worker's database pool when PostgreSQL ends a connection in use", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack('connloss');
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('fails the query in flight, not the process; the next checkout works', async () => {
    const pool = rotorDatabasePool(stack.env.ROTOR_DATABASE_URL, createLogger('silent'), 2);
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const client = await pool.connect();
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await client.query('BEGIN');
      const su = await superuserClient(stack.file, 'rotor');
      await su.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      await su.end();
      await new Promise((resolve) => setTimeout(resolve, 500));
      await expect(client.query('SELECT 1')).rejects.toThrow();
      client.release(true);
      expect(uncaught).toEqual([]);
      expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
    } finally {
      process.off('uncaughtException', onUncaught);
      await pool.end();
    }
  });
});

import { rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { StackError } from './stack-error.js';
import { info, step } from './progress.js';
import { ensureTestTools, ensureTools, ensureUnitTestTools } from './tools.js';
import { stateDirFor } from './up.js';
import { startLocal } from './start-local.js';

const usage = `usage: tsx stack/main.ts <command>
  test-tools  tools, plus what only the tests need (docker-compose, chromium)
  unit-tools  what the unit tests need (docker-compose, helm), no servers
  tools    build or install the Temporal CLI, the Vault API server and PostgreSQL (cached)
  start    start the local stack, bootstrap it, run a worker and the demo (what npm start runs)
  reset    delete the local stack's state dir (.rotor/local): every secret and workflow in it is lost`;

async function main(command: string | undefined): Promise<void> {
  switch (command) {
    case 'tools': {
      const tools = await step('ensuring tools (Temporal CLI, Vault API server, PostgreSQL, MariaDB, Redis, moto)', ensureTools);
      info(`temporal: ${tools.temporal}`);
      info(`vault:    ${tools.vault}`);
      info(`postgres: ${tools.pgBin}`);
      info(`mariadb:  ${tools.mariadb.server}`);
      info(`redis:    ${tools.redisServer}`);
      info(`moto:     ${tools.motoPython}`);
      return;
    }
    case 'test-tools': {
      await step('ensuring tools (Temporal CLI, Vault API server, PostgreSQL, MariaDB, Redis, moto)', ensureTools);
      await ensureTestTools();
      return;
    }
    case 'unit-tools':
      return ensureUnitTestTools();
    case 'start':
      return startLocal();
    case 'reset': {
      const dir = stateDirFor('local');
      if (!existsSync(dir)) return info(`nothing to reset: ${dir} does not exist`);
      await rm(dir, { recursive: true, force: true });
      return info(`removed ${dir}; the next 'npm start' initialises a fresh stack`);
    }
    default:
      process.stderr.write(`${command ? `unknown command "${command}"\n` : ''}${usage}\n`);
      process.exit(2);
  }
}

main(process.argv[2]).catch((err: unknown) => {
  if (err instanceof StackError) {
    process.stderr.write(`\n[rotor] ERROR: ${err.message}\n`);
  } else {
    // Temporal failures wrap the useful message in a cause chain: print every link.
    let message = '';
    for (let e: unknown = err; e instanceof Error; e = e.cause) message += `${message ? '\n  caused by: ' : ''}${e.message}`;
    process.stderr.write(`\n[rotor] ERROR: ${message || String(err)}\n`);
  }
  process.exit(1);
});

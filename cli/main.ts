import { parseArgs } from 'node:util';
import { InventoryError } from '../config/load-inventory.js';
import { cliContext, type CliContext } from './cli-context.js';
import { CliError, usageError } from './cli-error.js';
import { auditVerify, auditVerifyHelp } from './commands/audit-verify.js';
import { breakGlassCommand, breakGlassHelp } from './commands/break-glass.js';
import { confirm, confirmHelp } from './commands/confirm.js';
import { incident, incidentHelp } from './commands/incident.js';
import { login, loginHelp } from './commands/login.js';
import { plan, planHelp } from './commands/plan.js';
import { policyHelp, policyRender } from './commands/policy.js';
import { report, reportHelp } from './commands/report.js';
import { rotate, rotateHelp } from './commands/rotate.js';
import { schedules, schedulesHelp } from './commands/schedules.js';
import { seed, seedHelp } from './commands/seed.js';
import { status, statusHelp } from './commands/status.js';

const mainHelp = `usage: rotor <command> [options]

commands:
  login <user> | whoami | logout     log in to Vault as yourself; every command then acts as you
  identity-token                     a one-action identity token (for the Temporal UI)
  rotate <secret> [--wait]           rotate one secret (rotateSecret workflow)
  plan <plan> [--wait]               rotate a plan's secrets together (rotatePlan workflow)
  status [--json]                    versions, last and in-flight rotations, next scheduled runs
  report debt [--json|--markdown]    secret debt: ages, cadence compliance, failures, unmanaged paths, owner scores
  confirm <secret> <consumer>        confirm a manual consumer's cutover
  schedules sync|diff|pause|resume   reconcile rotation cadences with Temporal Schedules
  seed [<secret> ...]                give new secrets their first version
  break-glass request|approve|deny|revoke|credentials|list   emergency access with approval
  incident revoke-all|report|unfreeze|end-revocation   incident response: freeze, revoke, emergency-rotate
  audit verify                       check the audit log's hash chain
  policy render worker|operator      print rotor's Vault policies (worker: from the inventory)

Every command takes --help. Configuration comes from ROTOR_* variables, or from the local
stack started by 'npm start' when they are not set.`;

type Values = Record<string, string | boolean | undefined>;

type Command = {
  help: string;
  options: Record<string, { type: 'string' | 'boolean' }>;
} & (
  | { needsStack?: true; run(ctx: CliContext, positionals: string[], values: Values): Promise<number> }
  /** Reads files only: runs without a Temporal connection or credentials. */
  | { needsStack: false; run(positionals: string[], values: Values): Promise<number> }
);

const str = (v: string | boolean | undefined) => (typeof v === 'string' ? v : undefined);

const commands: Record<string, Command> = {
  login: { help: loginHelp, options: {}, needsStack: false, run: ([user]) => login(['login', user!]) },
  whoami: { help: loginHelp, options: {}, needsStack: false, run: () => login(['whoami']) },
  logout: { help: loginHelp, options: {}, needsStack: false, run: () => login(['logout']) },
  'identity-token': { help: loginHelp, options: {}, needsStack: false, run: () => login(['identity-token']) },
  rotate: {
    help: rotateHelp,
    options: { wait: { type: 'boolean' }, json: { type: 'boolean' }, reason: { type: 'string' } },
    run: (ctx, [secret], v) => rotate(ctx, { secret, wait: v.wait === true, json: v.json === true, reason: str(v.reason) }),
  },
  plan: {
    help: planHelp,
    options: { wait: { type: 'boolean' }, json: { type: 'boolean' }, reason: { type: 'string' } },
    run: (ctx, [name], v) => plan(ctx, { plan: name, wait: v.wait === true, json: v.json === true, reason: str(v.reason) }),
  },
  status: { help: statusHelp, options: { json: { type: 'boolean' } }, run: (ctx, _p, v) => status(ctx, { json: v.json === true }) },
  report: {
    help: reportHelp,
    options: { json: { type: 'boolean' }, markdown: { type: 'boolean' } },
    run: (ctx, [sub], v) => report(ctx, { sub, json: v.json === true, markdown: v.markdown === true }),
  },
  confirm: {
    help: confirmHelp,
    options: { version: { type: 'string' } },
    run: (ctx, [secret, consumer], v) => confirm(ctx, { secret, consumer, version: str(v.version) }),
  },
  seed: { help: seedHelp, options: {}, run: (ctx, secrets) => seed(ctx, { secrets }) },
  schedules: {
    help: schedulesHelp,
    options: { json: { type: 'boolean' } },
    run: (ctx, [sub, secret], v) => schedules(ctx, { sub, secret, json: v.json === true }),
  },
  'break-glass': {
    help: breakGlassHelp,
    options: {
      ttl: { type: 'string' },
      justification: { type: 'string' },
      comment: { type: 'string' },
      json: { type: 'boolean' },
    },
    run: (ctx, positionals, v) =>
      breakGlassCommand(ctx, positionals, {
        ttl: str(v.ttl),
        justification: str(v.justification),
        comment: str(v.comment),
        json: v.json === true,
      }),
  },
  incident: {
    help: incidentHelp,
    options: {
      incident: { type: 'string' },
      reason: { type: 'string' },
      scope: { type: 'string' },
      'dry-run': { type: 'boolean' },
      wait: { type: 'boolean' },
      json: { type: 'boolean' },
      concurrency: { type: 'string' },
      force: { type: 'boolean' },
      freeze: { type: 'string' },
    },
    run: (ctx, positionals, v) =>
      incident(ctx, positionals, {
        incident: str(v.incident),
        reason: str(v.reason),
        scope: str(v.scope),
        dryRun: v['dry-run'] === true,
        wait: v.wait === true,
        json: v.json === true,
        concurrency: str(v.concurrency),
        force: v.force === true,
        freeze: str(v.freeze),
      }),
  },
  'audit verify': {
    help: auditVerifyHelp,
    options: { json: { type: 'boolean' } },
    run: (ctx, _p, v) => auditVerify(ctx.session.vault, ctx.env, { json: v.json === true }),
  },
  'policy render': {
    help: policyHelp,
    options: { inventory: { type: 'string' }, 'kv-mount': { type: 'string' }, name: { type: 'string' } },
    needsStack: false,
    run: ([which], v) => policyRender({ which, inventory: str(v.inventory), kvMount: str(v['kv-mount']), name: str(v.name) }),
  },
};

function resolve(argv: string[]): { name: string; command: Command; rest: string[] } | undefined {
  const two = `${argv[0]} ${argv[1]}`;
  if (commands[two]) return { name: two, command: commands[two], rest: argv.slice(2) };
  const one = argv[0];
  if (one && commands[one]) return { name: one, command: commands[one], rest: argv.slice(1) };
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    console.log(mainHelp);
    return argv.length === 0 ? 2 : 0;
  }
  const found = resolve(argv);
  if (!found) {
    // Only two-word commands (audit verify) take the second word as part of the name.
    const group = Object.keys(commands).some((c) => c.startsWith(`${argv[0]} `));
    throw usageError(`unknown command "${group ? argv.slice(0, 2).join(' ') : argv[0]}"`, `run 'rotor --help' for the list of commands`);
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: found.rest,
      options: { ...found.command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw usageError((err as Error).message, `run 'rotor ${found.name} --help'`);
  }
  if (parsed.values.help) {
    console.log(found.command.help);
    return 0;
  }
  if (found.command.needsStack === false) return found.command.run(parsed.positionals, parsed.values as Values);
  const ctx = await cliContext();
  try {
    return await found.command.run(ctx, parsed.positionals, parsed.values as Record<string, string | boolean | undefined>);
  } finally {
    await ctx.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof CliError) {
      console.error(`rotor: ${err.message}${err.fix ? `\n  fix: ${err.fix}` : ''}`);
      process.exit(err.exitCode);
    }
    if (err instanceof InventoryError) {
      console.error(`rotor: ${err.message}`);
      process.exit(2);
    }
    console.error(`rotor: ${(err as Error).message ?? String(err)}`);
    process.exit(1);
  },
);

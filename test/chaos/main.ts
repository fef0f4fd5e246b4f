// `npm run chaos -- [rounds] [--ci] [--only <text>]`: the fault-injection suite against a real
// local stack of its own (mode `chaos`, own ports). Each round runs every scenario once; `--ci`
// runs the bounded subset `npm test` runs, with shorter outages. Exits 1 on any invariant violation.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { info, step } from '../../stack/progress.js';
import { up } from '../../stack/up.js';
import { WORKFLOW_BUNDLER_OPTIONS, WORKFLOWS_PATH } from '../../workers/create-worker.js';
import { startFaultStack } from '../helpers/fault-stack.js';
import { postgresSecretYaml, seed } from '../helpers/rotation-fixtures.js';
import { SCENARIOS, type ChaosContext, type RunRecord } from './scenarios.js';
import { printReport } from './report.js';
import { ServerFaults } from './server-faults.js';

const args = process.argv.slice(2);
const ci = args.includes('--ci');
/** `--only a,b`: scenarios whose name contains a or b. */
const only = args.includes('--only') ? args[args.indexOf('--only') + 1]?.split(',') : undefined;
const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 1);
const scenarios = SCENARIOS.filter((s) => (!ci || s.ci) && (!only || only.some((o) => s.name.includes(o))));
if (!scenarios.length) {
  process.stderr.write(
    `no scenario matches${only ? ` "${only.join(',')}"` : ''}; scenarios:\n${SCENARIOS.map((s) => `  ${s.name}`).join('\n')}\n`,
  );
  process.exit(2);
}

const stack = await up('chaos');
let exitCode = 1;
try {
  const bundle = await step('bundling workflow code', () =>
    bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, ...WORKFLOW_BUNDLER_OPTIONS, logger: new DefaultLogger('WARN') }),
  );
  await writeFile(join(stack.stateDir, 'workflow-bundle.js'), bundle.code);
  exitCode = await runAll();
} finally {
  await stack.stop();
}
process.exit(exitCode);

async function runAll(): Promise<number> {
  const secrets: string[] = [];
  const extra = { plans: '', breakGlass: '' };
  const inventory = () =>
    `secrets:\n${secrets.join('')}` +
    (extra.plans ? `plans:\n${extra.plans}` : '') +
    (extra.breakGlass ? `breakGlass:\n${extra.breakGlass}` : '');
  const fault = await startFaultStack('chaos', undefined, 'chaos');
  const faults = new ServerFaults(fault.file);
  let n = 0;
  const ctx: ChaosContext = {
    stack: fault,
    servers: faults,
    outageMs: ci ? 10_000 : 30_000,
    async newSecret(prefix, options = {}) {
      const secretId = `${prefix}-${Date.now().toString(36)}-${++n}`;
      const consumers = options.consumers ?? '';
      let yaml = postgresSecretYaml(secretId, consumers, options.overlap ?? '1s');
      if (options.tags?.length) yaml = yaml.replace('tags: [test]', `tags: [test, ${options.tags.join(', ')}]`);
      secrets.push(yaml);
      await fault.writeInventory(inventory());
      await seed(fault, secretId);
      return secretId;
    },
    async addInventory(section, yaml) {
      extra[section] += yaml;
      await fault.writeInventory(inventory());
    },
  };
  const records = new Map<string, RunRecord[]>(scenarios.map((s) => [s.name, []]));
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const scenario of scenarios) {
        const started = Date.now();
        let record: RunRecord;
        try {
          await fault.failpoints.clear();
          record = await scenario.run(ctx);
        } catch (err) {
          record = { faults: 0, outcome: 'harness error', violations: [`harness: ${(err as Error).stack ?? String(err)}`], recoverMs: [] };
          // A scenario that broke half-way may leave a worker held or dead, or workflows running: start clean.
          if (fault.worker.diedOnItsOwn()) record.violations.push(`the worker died on its own (its stderr: ${fault.workerLog})`);
          await fault.failpoints.clear();
          await fault.worker.crash();
          for await (const w of fault.client.workflow.list({ query: `TaskQueue="${fault.taskQueue}" AND ExecutionStatus="Running"` }))
            await fault.client.workflow
              .getHandle(w.workflowId, w.runId)
              .terminate('chaos: harness error in the scenario')
              .catch(() => undefined); // closed meanwhile
          await fault.startWorker();
        }
        if (fault.worker.diedOnItsOwn()) {
          record.violations.push(`the worker died on its own (its stderr: ${fault.workerLog})`);
          await fault.startWorker();
        }
        records.get(scenario.name)!.push(record);
        const seconds = ((Date.now() - started) / 1000).toFixed(0);
        info(
          `chaos ${round}/${rounds} ${scenario.name}: ${record.outcome}, ${record.faults} faults, ${record.violations.length} violations (${seconds}s)`,
        );
        for (const v of record.violations) info(`  violation: ${v}`);
      }
    }
  } finally {
    await fault.close();
    await faults.close();
  }
  return printReport(records) ? 0 : 1;
}

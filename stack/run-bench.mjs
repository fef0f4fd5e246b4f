// `npm run bench` / `npm run bench:rotation`: dependencies as npm test installs them, then bench/<name>.ts
// with the worker's node flags (the benchmarks run a worker in their own process).
import { spawnSync } from 'node:child_process';
import { ensureDependencies } from './ensure-dependencies.mjs';
import { WORKER_NODE_FLAGS } from './worker-node-flags.mjs';

ensureDependencies();
const [name, ...args] = process.argv.slice(2);
const result = spawnSync(process.execPath, [...WORKER_NODE_FLAGS, '--import', 'tsx', `bench/${name}.ts`, ...args], { stdio: 'inherit' });
process.exit(result.status ?? 1);

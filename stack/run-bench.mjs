// `npm run bench` / `npm run bench:rotation`: dependencies as npm test installs them, then bench/<name>.ts.
import { spawnSync } from 'node:child_process';
import { ensureDependencies } from './ensure-dependencies.mjs';

ensureDependencies();
const [name, ...args] = process.argv.slice(2);
const result = spawnSync(process.execPath, ['--import', 'tsx', `bench/${name}.ts`, ...args], { stdio: 'inherit' });
process.exit(result.status ?? 1);

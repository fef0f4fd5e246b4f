// `npm run bench -- [secrets] [concurrency]`: dependencies and tools as npm test does, then bench/.
import { spawnSync } from 'node:child_process';
import { ensureDependencies } from './ensure-dependencies.mjs';

ensureDependencies();
const result = spawnSync(process.execPath, ['--import', 'tsx', 'bench/revoke-all.ts', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);

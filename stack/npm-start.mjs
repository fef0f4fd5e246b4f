// `npm start`: install dependencies when needed, then run the local stack (stack/main.ts start).
// Plain JavaScript on purpose: it must run before node_modules (and tsx) exist.
import { spawnSync } from 'node:child_process';
import { ensureDependencies } from './ensure-dependencies.mjs';

ensureDependencies();
const result = spawnSync(process.execPath, ['--import', 'tsx', 'stack/main.ts', 'start'], { stdio: 'inherit' });
process.exit(result.status ?? 1);

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root folder: where `.rotor/` state and the example inventory live. */
export const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

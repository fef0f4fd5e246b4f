/**
 * Node flags for a worker process. Every workflow activation allocates many short-lived objects;
 * a 32 MB young generation (default 16) halves the scavenges, measured in bench/revoke-all.ts.
 * The Dockerfile's CMD repeats them.
 */
export const WORKER_NODE_FLAGS = ['--max-semi-space-size=32'];

/**
 * How long a scrape may take the worker: one deadline for the whole gauge snapshot (every source,
 * read in parallel where one does not need another) and the SDK exporter's text fetched beside it.
 * Prometheus's scrape_timeout must be above it: stack/prometheus-server.ts sets 2 s, and a
 * deployment's scrape timeout (Prometheus's default is 10 s) should leave a similar margin.
 * Its own module so the stack can read it without loading the metrics' sources.
 */
export const METRICS_BUDGET_MS = 1_500;

import { z } from 'zod';

/** `host:port` a server binds to ("0.0.0.0:8081" in a container, "127.0.0.1:8081" on a host). */
export function listenAddress(variable: string, example: string) {
  return z
    .string()
    .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, `${variable} must be host:port, e.g. "${example}"`)
    .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, `${variable}: the port must be at most 65535`);
}

/** Splits a checked `host:port` (an IPv6 host keeps no brackets). */
export function parseListenAddress(value: string): { host: string; port: number } {
  const at = value.lastIndexOf(':');
  return { host: value.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(value.slice(at + 1)) };
}

/** `ip:port` only (no host name): what the Temporal runtime's metrics exporter binds to. */
export function ipListenAddress(variable: string, example: string) {
  return listenAddress(variable, example).refine(
    (v) => /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d+$/.test(v),
    `${variable} needs an IP address, not a host name, e.g. "${example}"`,
  );
}

/** Types shared by the revokeAll workflow, its activities and clients. No runtime imports. */

export interface IncidentScope {
  secretIds: string[];
  tags: string[];
  /** Vault lease prefixes under database/creds/, e.g. "database/creds/breakglass-". */
  leasePrefixes: string[];
}

export interface ScopePlan {
  secrets: string[];
  leasePrefixes: { prefix: string; leases: number }[];
  grants: { workflowId: string; secretId: string }[];
}

export type ItemStatus = 'planned' | 'done' | 'failed';

export interface SecretReport {
  secretId: string;
  status: ItemStatus;
  outcome?: string;
  fromVersion?: number;
  toVersion?: number;
  startedAt?: string;
  durationMs?: number;
  reason?: string;
  /** The rotation that was running for this secret and was cancelled to make way (its workflow id). */
  preempted?: string;
}

export interface LeaseReport {
  prefix: string;
  status: ItemStatus;
  leasesBefore: number;
  forced: boolean;
  verified?: boolean;
  durationMs?: number;
  reason?: string;
}

export interface GrantReport {
  workflowId: string;
  secretId: string;
  status: ItemStatus;
  reason?: string;
}

export interface IncidentReport {
  incidentId: string;
  reason: string;
  requestedBy: string;
  dryRun: boolean;
  startedAt: string;
  finishedAt?: string;
  frozen: boolean;
  secrets: SecretReport[];
  leases: LeaseReport[];
  grants: GrantReport[];
  summary: { done: number; failed: number; planned: number };
}

export interface IncidentProgress {
  total: number;
  done: number;
  failed: number;
  remaining: number;
}

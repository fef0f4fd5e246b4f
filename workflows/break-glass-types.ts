/** Types shared by the breakGlass workflow, its activities and clients. No runtime imports. */

export const BreakGlassPhase = {
  AWAITING_APPROVAL: 'awaiting_approval',
  GRANTED: 'granted',
  REVOKING: 'revoking',
  ROTATING: 'rotating',
  DONE: 'done',
} as const;
export type BreakGlassPhase = (typeof BreakGlassPhase)[keyof typeof BreakGlassPhase];

export interface BreakGlassPolicySpec {
  policyId: string;
  secretId: string;
  /** Declared names, before identities were verified (earlier histories); empty now. */
  requesters: string[];
  approvers: string[];
  /** Vault identity groups whose members may request / approve (absent in earlier histories). */
  requesterGroups?: string[];
  approverGroups?: string[];
  approvals: number;
  maxTtlMs: number;
  approvalTimeoutMs: number;
  rotateAfter: boolean;
}

export interface Decision {
  approver: string;
  /** The approver's Vault identity entity: "distinct approvers" means distinct entities. */
  entityId?: string;
  comment?: string;
}

/**
 * Where the requester finds the credential; the credential itself never enters history. Grants
 * are delivered to a KV path only the requester's Vault identity can read (`deliveredTo`);
 * earlier grants were response-wrapped (`wrapToken`), which anyone reading history could unwrap first.
 */
export interface Grant {
  leaseId: string;
  username: string;
  /** KV path (under the rotor mount) readable only by the requester's entity (operator policy template). */
  deliveredTo?: string;
  /** Grants issued before identities were verified (earlier histories). */
  wrapToken?: string;
  expiresAt: string;
}

export interface BreakGlassStatus {
  requestId: string;
  policyId: string;
  requester: string;
  phase: BreakGlassPhase;
  /** True once the policy is loaded and approvers may decide. */
  open: boolean;
  approvals: Decision[];
  denial?: Decision;
  grant?: Grant;
  revokedBy?: string;
}

export type BreakGlassResult =
  | { outcome: 'revoked'; requestId: string; policyId: string; username: string; revokedBy: string; rotation?: string }
  | { outcome: 'denied'; requestId: string; policyId: string; deniedBy: string; reason: string }
  | { outcome: 'expired'; requestId: string; policyId: string; approvals: number; required: number }
  | { outcome: 'refused'; requestId: string; policyId: string; reason: string };

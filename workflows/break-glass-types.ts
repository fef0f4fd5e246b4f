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
  requesters: string[];
  approvers: string[];
  approvals: number;
  maxTtlMs: number;
  approvalTimeoutMs: number;
  rotateAfter: boolean;
}

export interface Decision {
  approver: string;
  comment?: string;
}

/** What the requester needs: the wrapping token is single-use; the credential itself never enters history. */
export interface Grant {
  leaseId: string;
  username: string;
  wrapToken: string;
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

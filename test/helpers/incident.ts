import { incidentWorkflowId, unfreezeWorkflowId } from '../../workflows/contracts.js';
import type { IncidentReport } from '../../workflows/incident-types.js';
import { revokeAll, unfreeze } from '../../workflows/revoke-all.js';
import { identityToken, type OperatorName } from './operators.js';
import type { StackConnection } from './test-stack.js';

export interface IncidentRun {
  incidentId: string;
  reason: string;
  /** The secrets in scope; only they are frozen (freeze: in-scope). */
  secretIds: readonly string[];
  /** The incident responder who starts it (their identity token is verified by the workflow). */
  by: OperatorName;
}

/** `revokeAll` run to completion as incident/<id>, emergency-rotating the given secrets; its report. */
export async function runIncident(stack: StackConnection, { incidentId, reason, secretIds, by }: IncidentRun): Promise<IncidentReport> {
  return stack.client.workflow.execute(revokeAll, {
    taskQueue: stack.taskQueue,
    workflowId: incidentWorkflowId(incidentId),
    args: [
      {
        incidentId,
        reason,
        identity: await identityToken(stack.file, by),
        scope: { secretIds: [...secretIds] },
        freeze: 'in-scope',
      },
    ],
  });
}

/** Lifts the incident's freeze (`unfreeze`) as `by`, waiting for it to finish. */
export async function liftFreeze(
  stack: StackConnection,
  incidentId: string,
  by: OperatorName,
): Promise<{ incidentId: string; liftedBy: string }> {
  return stack.client.workflow.execute(unfreeze, {
    taskQueue: stack.taskQueue,
    workflowId: unfreezeWorkflowId(incidentId, Date.now()),
    args: [{ incidentId, identity: await identityToken(stack.file, by) }],
  });
}

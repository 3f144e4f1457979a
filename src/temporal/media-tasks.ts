import { WithStartWorkflowOperation, WorkflowExecutionAlreadyStartedError, type Client, type WorkflowStartOptions } from '@temporalio/client';
import type { mediaTaskWorkflow } from '../../workflows/media-task.workflow';
import { admitTaskUpdate } from '../../workflows/messages';
import type { Admission, MediaTaskInput } from '../../workflows/types';
import { SearchAttributes } from './search-attributes';

/** The start options every media task's workflow gets, however it is started. */
function startOptions(taskQueue: string, input: MediaTaskInput): WorkflowStartOptions<typeof mediaTaskWorkflow> & { workflowIdConflictPolicy: 'USE_EXISTING' } {
  return {
    workflowId: input.taskId,
    taskQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [
      { key: SearchAttributes.Model, value: input.model },
      { key: SearchAttributes.ApiKeyId, value: input.apiKeyId },
      { key: SearchAttributes.AccountId, value: input.accountId },
      { key: SearchAttributes.TaskKind, value: input.kind },
      { key: SearchAttributes.TaskStatus, value: 'pending' },
      { key: SearchAttributes.Channel, value: [] },
    ],
    staticSummary: `${input.kind} task · ${input.model} · ${input.price} credits`,
    staticDetails: `Account ${input.accountId}, key ${input.apiKeyId}, group ${input.group}; deadline ${input.deadlineSeconds} s`,
  };
}

/**
 * Starts the workflow of a task the API has already reserved (row and hold committed). Idempotent:
 * workflow id = task id, USE_EXISTING joins a running one, and REJECT_DUPLICATE never runs a task a second
 * time once its workflow has closed; either way the task's workflow exists when this returns.
 */
export async function startMediaTask(client: Client, taskQueue: string, input: MediaTaskInput): Promise<'started' | 'existed'> {
  try {
    await client.workflow.start<typeof mediaTaskWorkflow>('mediaTaskWorkflow', { ...startOptions(taskQueue, input), workflowIdReusePolicy: 'REJECT_DUPLICATE' });
    return 'started';
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return 'existed';
    throw error;
  }
}

/**
 * Starts the task's workflow and waits for its reservation in one round trip (Update-With-Start).
 * Workflow id = task id with USE_EXISTING, and a fixed update id, so a retried POST with the same
 * Idempotency-Key joins the same workflow and gets the same answer.
 */
export async function admitMediaTask(client: Client, taskQueue: string, input: MediaTaskInput): Promise<Admission> {
  const start = new WithStartWorkflowOperation<typeof mediaTaskWorkflow>('mediaTaskWorkflow', startOptions(taskQueue, input));
  return client.workflow.executeUpdateWithStart(admitTaskUpdate, { updateId: 'admit', startWorkflowOperation: start });
}

/** Asks the task's workflow to cancel; the workflow cancels upstream and refunds. */
export async function cancelMediaTask(client: Client, taskId: string): Promise<void> {
  await client.workflow.getHandle(taskId).cancel();
}

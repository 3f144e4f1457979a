import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { mediaTaskWorkflow } from '../../workflows/media-task.workflow';
import type { MediaTaskInput } from '../../workflows/types';
import { SearchAttributes } from './search-attributes';

/**
 * Starts the workflow of a task the API has already reserved (row and hold committed); the POST's start
 * and the sweeper's are this same call. Idempotent: workflow id = task id, USE_EXISTING joins a running
 * one (a retried POST with the same Idempotency-Key, or the sweeper racing it), and REJECT_DUPLICATE never
 * runs a task a second time once its workflow has closed; either way the task's workflow exists when this
 * returns.
 */
export async function startMediaTask(client: Client, taskQueue: string, input: MediaTaskInput): Promise<'started' | 'existed'> {
  try {
    await client.workflow.start<typeof mediaTaskWorkflow>('mediaTaskWorkflow', {
      workflowId: input.taskId,
      taskQueue,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
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
    });
    return 'started';
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return 'existed';
    throw error;
  }
}

/** Asks the task's workflow to cancel; the workflow cancels upstream and refunds. */
export async function cancelMediaTask(client: Client, taskId: string): Promise<void> {
  await client.workflow.getHandle(taskId).cancel();
}

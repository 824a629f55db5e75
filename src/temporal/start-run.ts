/** Starting a run from a client: the workflow id is the run name; search attributes when the namespace has them. */
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { WORKFLOW_QUEUE } from '../queues.js';
import { ITERATION_ATTRIBUTE, STAGE_ATTRIBUTE } from '../workflows/search-attributes.js';

export async function searchAttributesRegistered(client: Client, namespace: string): Promise<boolean> {
  try {
    const r = await client.connection.operatorService.listSearchAttributes({ namespace });
    const custom = r.customAttributes ?? {};
    return STAGE_ATTRIBUTE.name in custom && ITERATION_ATTRIBUTE.name in custom;
  } catch {
    return false; // no operator access: run without them
  }
}

/** A run of that name exists already: still running, or closed while the config did not ask to resume. */
export class RunExistsError extends Error {
  constructor(
    readonly runName: string,
    /** The existing execution's status, e.g. RUNNING, COMPLETED, FAILED; null when it could not be read. */
    readonly status: string | null,
  ) {
    super(`a run named ${runName} exists already${status ? ` (${status})` : ''}`);
    this.name = 'RunExistsError';
  }
}

/**
 * Starts the run. A name that has an execution of any state is refused, unless the config says `resume: true`:
 * then a closed run's name may be taken again (and the new run continues from the folder it left). A running
 * run's name is refused either way.
 */
export async function startRun(client: Client, namespace: string, config: { name: string } & Record<string, unknown>): Promise<WorkflowHandle> {
  const searchable = await searchAttributesRegistered(client, namespace);
  try {
    return await client.workflow.start('iSheepRun', {
      taskQueue: WORKFLOW_QUEUE,
      workflowId: config.name,
      args: [config],
      workflowIdReusePolicy: config.resume === true ? WorkflowIdReusePolicy.ALLOW_DUPLICATE : WorkflowIdReusePolicy.REJECT_DUPLICATE,
      ...(searchable
        ? { typedSearchAttributes: [{ key: STAGE_ATTRIBUTE, value: 'preparing' }, { key: ITERATION_ATTRIBUTE, value: 0 }] }
        : {}),
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw new RunExistsError(config.name, await statusOf(client, config.name));
    throw err;
  }
}

async function statusOf(client: Client, workflowId: string): Promise<string | null> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).status.name;
  } catch {
    return null;
  }
}

/** Starting a run from a client: the workflow id is the run name; search attributes when the namespace has them. */
import type { Client, WorkflowHandle } from '@temporalio/client';
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

export async function startRun(client: Client, namespace: string, config: { name: string } & Record<string, unknown>): Promise<WorkflowHandle> {
  const searchable = await searchAttributesRegistered(client, namespace);
  return client.workflow.start('iSheepRun', {
    taskQueue: WORKFLOW_QUEUE,
    workflowId: config.name,
    args: [config],
    ...(searchable
      ? { typedSearchAttributes: [{ key: STAGE_ATTRIBUTE, value: 'preparing' }, { key: ITERATION_ATTRIBUTE, value: 0 }] }
      : {}),
  });
}

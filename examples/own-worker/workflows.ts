/** The team's own workflow: an I-SHEEP run as one step of its pipeline, then a step of its own. */
import { executeChild, proxyActivities } from '@temporalio/workflow';
import type { iSheepRun } from 'isheep/workflows';

const { announce } = proxyActivities<{ announce(text: string): Promise<void> }>({ startToCloseTimeout: '1 minute' });

export async function alignAndAnnounce(config: { name: string } & Record<string, unknown>): Promise<string> {
  // The workflow id is the run's name; isheep's workers poll the queue 'isheep'.
  const result = await executeChild<typeof iSheepRun>('iSheepRun', { taskQueue: 'isheep', workflowId: config.name, args: [config] });
  await announce(`${config.name}: ${result.summaries.length} iteration(s), final model ${result.finalModel.uri}`);
  return result.finalModel.uri;
}

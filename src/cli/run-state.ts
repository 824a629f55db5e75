/**
 * What the server says about a run, before anything asks the workflow itself: a closed run answers no query
 * (or only through a worker replaying it), so status and report read its state from describe and its close
 * event first, and only a running run is queried.
 */
import { WorkflowFailedError, WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';

/** A message for people and the exit code that goes with it; main prints it without a stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export type RunState =
  | { closed: false; name: string; startTime: Date }
  | {
      closed: true;
      name: string;
      /** COMPLETED, FAILED, TERMINATED, CANCELED, TIMED_OUT, CONTINUED_AS_NEW. */
      status: string;
      /** Why it ended other than completed: the failure chain, the termination reason. */
      cause: string | null;
      startTime: Date;
      closeTime: Date;
    };

export function noRunNamed(name: string, namespace: string): CliError {
  return new CliError(`no run named ${name} in namespace ${namespace}`);
}

export async function readRunState(client: Client, name: string): Promise<RunState> {
  let desc: WorkflowExecutionDescription;
  try {
    desc = await client.workflow.getHandle(name).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw noRunNamed(name, client.options.namespace);
    throw err;
  }
  if (desc.status.name === 'RUNNING' || !desc.closeTime) return { closed: false, name, startTime: desc.startTime };
  const cause = desc.status.name === 'COMPLETED' ? null : await closeCause(client, name, desc.runId);
  return { closed: true, name, status: desc.status.name, cause, startTime: desc.startTime, closeTime: desc.closeTime };
}

/** The close event, as the SDK reads it for result(): a failure's chain of messages, a termination's reason. */
async function closeCause(client: Client, workflowId: string, runId: string): Promise<string | null> {
  try {
    await client.workflow.getHandle(workflowId, runId, { followRuns: false }).result();
    return null;
  } catch (err) {
    return err instanceof WorkflowFailedError ? failureChain(err.cause ?? err) : failureChain(err);
  }
}

/**
 * "Child Workflow execution failed: Activity task failed: <what the engine said>": each level says where, the
 * last one says why. Repeated messages (a terminated run's reason is also its error's message) appear once.
 */
export function failureChain(err: unknown): string {
  const messages: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e.message && messages[messages.length - 1] !== e.message) messages.push(e.message);
  }
  return messages.join(': ') || String(err);
}

export function minutesBetween(start: Date, end: Date): string {
  return ((end.getTime() - start.getTime()) / 60_000).toFixed(1);
}

/** One line about a closed run, e.g. "run x FAILED after 2.1 min: …" or "run x completed in 14.2 min". */
export function closedLine(state: Extract<RunState, { closed: true }>): string {
  const minutes = minutesBetween(state.startTime, state.closeTime);
  if (state.status === 'COMPLETED') return `run ${state.name} completed in ${minutes} min`;
  return `run ${state.name} ${state.status} after ${minutes} min${state.cause ? `: ${state.cause}` : ''}`;
}

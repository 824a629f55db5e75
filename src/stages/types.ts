/**
 * Plain-JSON records that flow between the I-SHEEP stages.
 * Every stage function takes and returns these; none of them holds a class instance or a Map.
 */

/** One task: an instruction and its optional input ('' when there is none). */
export interface Task {
  id: string;
  instruction: string;
  input: string;
}

/** A task before it has an id: what the synthesis parser yields. */
export type TaskText = Omit<Task, 'id'>;

/** A task and the model's answer to it. */
export interface Pair extends Task {
  response: string;
}

/** The outcome of a filter: what survived, and how many were dropped for each named reason. */
export interface Counted<T, Reason extends string = string> {
  kept: T[];
  dropped: Record<Reason, number>;
}

/** A zero count for every reason, so reports always list each reason, dropped or not. */
export function zeroCounts<Reason extends string>(reasons: readonly Reason[]): Record<Reason, number> {
  const counts = {} as Record<Reason, number>;
  for (const reason of reasons) counts[reason] = 0;
  return counts;
}

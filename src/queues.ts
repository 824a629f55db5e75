/** Task queue names (DESIGN.md): workflows, data work, and model work on GPU slots. */
export const WORKFLOW_QUEUE = 'isheep';
export const CPU_QUEUE = 'isheep-cpu';
export const GPU_QUEUE = 'isheep-gpu';

/** The queue of one slot, for work that must stay on the slot that holds its state. */
export function slotQueue(host: string, slot: number): string {
  return `${GPU_QUEUE}.${host}.${slot}`;
}

import { visibleGpus } from '../engine/devices.js';

/** What a model slot has, asked by a run at its start (a paper-size run on CPU-only slots is refused). */
export function createSlotActivities(env: Record<string, string>) {
  return {
    /** The GPUs this slot's jobs see (CUDA_VISIBLE_DEVICES; an empty value is a CPU slot). */
    async describeSlot(): Promise<{ gpus: number }> {
      return { gpus: visibleGpus(env) };
    },
  };
}

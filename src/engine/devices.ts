/** The GPUs a job's environment lets it see: the entries of CUDA_VISIBLE_DEVICES (unset or empty: none, a CPU slot). */
export function visibleGpus(env: Record<string, string | undefined>): number {
  return (env.CUDA_VISIBLE_DEVICES ?? '').split(',').filter((d) => d.trim() !== '').length;
}

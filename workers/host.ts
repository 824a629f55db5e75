/**
 * Entry point for a process manager (systemd, Kubernetes, docker): this host's workers — workflows, data,
 * and one model slot per visible GPU — against TEMPORAL_ADDRESS. Same as `isheep worker`.
 *   TEMPORAL_ADDRESS=temporal:7233 ISHEEP_STORE=/store npx tsx workers/host.ts
 */
process.argv.splice(2, process.argv.length, 'worker');
await import('../src/cli/main.js');

/**
 * What a run asks of the cluster at its start, on the CPU queue: whether the namespace has isheep's search
 * attributes registered (so that a run started from the Web UI, which sets none, still becomes findable by stage
 * and iteration). A worker without a client (or without operator access) answers no, and the run goes on without.
 */
import type { Client } from '@temporalio/client';
import { searchAttributesRegistered } from '../temporal/start-run.js';

export function createNamespaceActivities(client: Client | null, namespace: string) {
  return {
    async searchAttributesRegistered(): Promise<boolean> {
      return client ? searchAttributesRegistered(client, namespace) : false;
    },
  };
}

export type NamespaceActivities = ReturnType<typeof createNamespaceActivities>;

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Workflow and engine tests start real servers and real model jobs: give them room, run files one at a time
    // on 2-core machines so a model job does not starve the dev server.
    testTimeout: 120_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
});

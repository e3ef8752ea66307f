import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/faults/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // 2-core machines: spawning real processes is the expensive part, so keep file parallelism modest.
    maxWorkers: 2,
    pool: 'forks',
  },
});

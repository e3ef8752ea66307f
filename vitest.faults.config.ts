import { defineConfig } from 'vitest/config';

/**
 * The fault-injection and soak suite (issue 7, reliability.md section 8): `npm run test:faults` (PR sizes,
 * under 10 minutes on 2 cores) and `npm run test:soak` (BOX_QC_SOAK=1: 500 kills, 10-minute mixed soak).
 * Files run one at a time: each test drives many real processes itself and measures what they do, so two
 * files competing for 2 cores would only blur the timing-dependent cases. Needs the built dist/ (npm run
 * build), root (tmpfs, setpriv) and strace.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/faults/global-setup.ts'],
    fileParallelism: false,
    maxWorkers: 1,
    pool: 'forks',
    // Each test bounds its own loops in time; this is only the backstop (soak tests run for many minutes).
    testTimeout: process.env.BOX_QC_SOAK === '1' ? 3_600_000 : 900_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});

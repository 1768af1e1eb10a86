import { defineConfig } from 'vitest/config';

// The default suite: unit tests, the real-vmcore tests and the fast fuzz subset.
// Heavy suites (real VS Code in a browser, QEMU guests, long fuzzing) live in vitest.long.config.ts.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/long/**', 'node_modules/**'],
    globalSetup: ['test/support/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});

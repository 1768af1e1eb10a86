import { defineConfig } from 'vitest/config';

// Heavy suites run by .ci/run after the default suite: long fuzzing, SSH against a real OpenSSH
// server, a QEMU guest with a real kernel, and the extension in a real VS Code in a browser.
export default defineConfig({
  test: {
    include: ['test/long/**/*.test.ts'],
    globalSetup: ['test/support/globalSetup.ts'],
    testTimeout: 30 * 60_000,
    hookTimeout: 30 * 60_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
  },
});

import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The default suite: unit tests, the real-vmcore tests and the fast fuzz subset.
// Heavy suites (real VS Code in a browser, QEMU guests, long fuzzing) live in vitest.long.config.ts.
export default defineConfig({
  // The `vscode` module exists only inside VS Code: unit tests of the glue get a thin stand-in.
  resolve: { alias: { vscode: fileURLToPath(new URL('./test/support/vscodeStub.ts', import.meta.url)) } },
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/long/**', 'node_modules/**'],
    globalSetup: ['test/support/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});

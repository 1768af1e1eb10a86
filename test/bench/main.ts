/** One benchmark per process (so peak RSS is its own): `node bench.js NAME` prints a JSON result. */
import { benchDmesg, benchOpen, benchRandomZlib, benchSequential, type Result } from './engine';
import { benchFetch } from './remote';

const BENCHES: Record<string, () => Promise<Result>> = {
  open: benchOpen,
  sequential: benchSequential,
  'random-zlib': benchRandomZlib,
  dmesg: benchDmesg,
  'fetch-vs-scp': benchFetch,
};

async function main(): Promise<void> {
  const name = process.argv[2];
  if (!name) {
    process.stdout.write(JSON.stringify(Object.keys(BENCHES)));
    return;
  }
  const bench = BENCHES[name];
  if (!bench) throw new Error(`unknown benchmark ${name}`);
  const result = await bench();
  const maxRssMiB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ ...result, maxRssMiB }));
}

main().catch((e: Error) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});

/**
 * Measures what a fuzz case allocates: the largest single typed array, ArrayBuffer, Buffer or Array
 * created while a case runs (by hooking the global constructors for the duration of a campaign),
 * and heap growth across cases (with a real garbage collection between samples).
 *
 * A reader that sizes an allocation from an unchecked header field shows up here as a huge single
 * allocation even when the machine has the memory to satisfy it.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Allocations from this size on are reported with the code that made them. */
const STACK_THRESHOLD = 16 * 1024 * 1024;

type Ctor = abstract new (...args: never[]) => unknown;

const TYPED: Record<string, number> = {
  Uint8Array: 1,
  Int8Array: 1,
  Uint8ClampedArray: 1,
  Uint16Array: 2,
  Int16Array: 2,
  Uint32Array: 4,
  Int32Array: 4,
  Float32Array: 4,
  Float64Array: 8,
  BigUint64Array: 8,
  BigInt64Array: 8,
};

export class AllocationMeter {
  /** Largest single allocation in bytes since the last reset, and what it was. */
  largest = 0;
  largestWhat = '';
  private active = false;
  private restore: (() => void)[] = [];

  private record(bytes: number, what: string): void {
    if (this.active && bytes > this.largest) {
      this.largest = bytes;
      this.largestWhat = what;
      if (bytes >= STACK_THRESHOLD) {
        // Name the reader code that asked for it (the first frames under src/).
        const frames = (new Error().stack ?? '').split('\n').filter((l) => l.includes('/src/'));
        if (frames.length > 0)
          this.largestWhat += ` at ${frames
            .slice(0, 2)
            .map((f) => f.trim())
            .join(' ')}`;
      }
    }
  }

  install(): void {
    if (this.restore.length > 0) return;
    const g = globalThis as unknown as Record<string, unknown>;
    const hook = (name: string, bytesOf: (args: unknown[]) => number) => {
      const original = g[name] as Ctor;
      const meter = this;
      const proxy: Ctor = new Proxy(original, {
        construct(target, args, newTarget) {
          const n = bytesOf(args);
          if (n > 0) meter.record(n, `new ${name}(${String(args[0])})`);
          return Reflect.construct(target, args, newTarget === proxy ? target : newTarget) as object;
        },
      });
      g[name] = proxy;
      this.restore.push(() => {
        g[name] = original;
      });
    };
    for (const [name, size] of Object.entries(TYPED)) {
      hook(name, (args) => (typeof args[0] === 'number' ? args[0] * size : 0));
    }
    hook('ArrayBuffer', (args) => (typeof args[0] === 'number' ? args[0] : 0));
    hook('SharedArrayBuffer', (args) => (typeof args[0] === 'number' ? args[0] : 0));
    hook('Array', (args) => (args.length === 1 && typeof args[0] === 'number' ? args[0] * 8 : 0));
    for (const method of ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const) {
      const original = Buffer[method];
      const meter = this;
      (Buffer as unknown as Record<string, unknown>)[method] = function (this: unknown, ...args: unknown[]) {
        if (typeof args[0] === 'number') meter.record(args[0], `Buffer.${method}(${args[0]})`);
        return (original as (...a: unknown[]) => Buffer).apply(this, args);
      };
      this.restore.push(() => {
        (Buffer as unknown as Record<string, unknown>)[method] = original;
      });
    }
  }

  uninstall(): void {
    for (const r of this.restore.splice(0)) r();
    this.active = false;
  }

  /** Start measuring a case. */
  start(): void {
    this.largest = 0;
    this.largestWhat = '';
    this.active = true;
  }

  stop(): { largest: number; what: string } {
    this.active = false;
    return { largest: this.largest, what: this.largestWhat };
  }
}

let gcFn: (() => void) | undefined;
/** A real garbage collection (exposing gc at run time), so heap samples mean something. */
export function collectGarbage(): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
}

/**
 * Heap plus ArrayBuffer memory in use, after full collections (ArrayBuffer backing stores are freed
 * after the collection that finds them dead, so collect until the number settles).
 */
export async function liveBytes(): Promise<number> {
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    collectGarbage();
    await new Promise((r) => setImmediate(r));
    const m = process.memoryUsage();
    const now = m.heapUsed + m.arrayBuffers;
    if (Math.abs(last - now) < 1 << 20) return now;
    last = now;
  }
  return last;
}

// Shared by the benchmark drivers (`cargo xtask bench ...`): arguments, timing, memory.

import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

/** `--name value` pairs into an object. */
export function parseArgs(argv = process.argv.slice(2)) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) {
      throw new Error(`bad arguments near ${argv[i]}: expected --name value pairs`);
    }
    out[argv[i].slice(2)] = argv[i + 1];
  }
  return out;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** Milliseconds `f` takes, and its result. */
export function timed(f) {
  const t0 = performance.now();
  const value = f();
  return [performance.now() - t0, value];
}

/** Loads wasm-bindgen's `--target nodejs` glue (CommonJS). */
export function loadWasm(gluePath) {
  return createRequire(import.meta.url)(gluePath);
}

/** Memory figures of this process so far, in bytes (`peak_rss` is the OS's high-water mark). */
export function memory(wasm) {
  const m = process.memoryUsage();
  return {
    peak_rss: process.resourceUsage().maxRSS * 1024,
    rss: m.rss,
    heap_used: m.heapUsed,
    external: m.external,
    wasm_memory: wasm ? wasm.wasm_memory_bytes() : null,
  };
}

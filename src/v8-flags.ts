/**
 * The V8 flags box-qc sets, all of them (issue 16 item 5: one CLI-side module). V8 flags are process-wide, so
 * only the CLI, which owns its process, sets them: core/ and the library never do. core/http asks for its flag
 * through a hook the CLI passes in (HttpContextOptions.beforeUndiciLoads), and `ls` calls its own.
 *
 * Both are set once the process runs, not as start-up flags: flags such as --max-semi-space-size cannot be
 * passed through `#!/usr/bin/env node` or `node bin/box-qc.js`. node:v8 is imported lazily: a `status` run
 * never loads it.
 */

/**
 * Heap tuning for a command that streams an unbounded amount of data through a small working set (`ls` of a
 * million items: two pages live at a time, everything else garbage within a page).
 *
 * By default V8 doubles the young generation whenever much of it survives a scavenge (a page being parsed
 * while the next one arrives does), up to 16 MB semi-spaces (32 MB resident), and lets the old generation grow
 * well past what is live before a full collection. Both are read by V8 at each collection, so they can be set
 * while the process runs. Measured on `ls` (issue 8): peak RSS at 1,000,000 items 112 -> 67 MB (10,000 items:
 * 55 MB either way), throughput unchanged within noise.
 */
export async function keepHeapSmallWhileStreaming(): Promise<void> {
  const { setFlagsFromString } = await import('node:v8');
  // The young generation stays at its initial 1 MB semi-spaces instead of doubling.
  setFlagsFromString('--semi-space-growth-factor=1');
  // After a full collection the old generation may grow 20% over what is live (V8's default: 1.1x to 4x).
  setFlagsFromString('--heap-growing-percent=20');
}

/**
 * Heap tuning for `serve`: the old generation alone kept within 20% of what a full collection left live. Each
 * commit reads and writes the whole store file, large objects that die at once, and V8 let the old generation
 * grow far past what was live before collecting them: peak RSS in a burst of 200 callbacks (issue 17 bench)
 * 108-128 MB, 107-114 MB with this, CPU per flow within noise. The young generation keeps its default growth:
 * held at 1 MB semi-spaces as well (keepHeapSmallWhileStreaming), serve peaked at 77-83 MB but spent ~20% more
 * CPU per flow, promoting what 200 flows in flight keep alive across a scavenge.
 */
export async function keepOldGenerationSmall(): Promise<void> {
  const { setFlagsFromString } = await import('node:v8');
  setFlagsFromString('--heap-growing-percent=20');
}

/**
 * For a run of a few requests through undici (a proxy is set): compile WebAssembly with V8's baseline compiler
 * only, set before undici loads. undici's HTTP parser is WebAssembly, and V8's background optimisation of it
 * took ~35 MB of memory and delayed every exit by ~100 ms (Node waits for background compile jobs before it
 * exits), while parsing is a sliver of any such run (issue 8: ls peak RSS, lock storm). `ls` parses megabytes
 * and keeps the optimised parser.
 */
export async function compileWasmWithBaselineOnly(): Promise<void> {
  const { setFlagsFromString } = await import('node:v8');
  setFlagsFromString('--liftoff-only');
}

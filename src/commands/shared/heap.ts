/**
 * V8 heap tuning for a command that streams an unbounded amount of data through a small working set (`ls` of
 * a million items: two pages live at a time, everything else garbage within a page).
 *
 * By default V8 doubles the young generation whenever much of it survives a scavenge (a page being parsed
 * while the next one arrives does), up to 16 MB semi-spaces (32 MB resident), and lets the old generation grow
 * well past what is live before a full collection. Both are read by V8 at each collection, so they can be set
 * once the process runs; start-up flags (--max-semi-space-size) cannot be passed through `#!/usr/bin/env node`
 * or `node bin/box-qc.js`. Measured on `ls` (issue 8): peak RSS at 1,000,000 items 112 -> 67 MB (10,000 items:
 * 55 MB either way), throughput unchanged within noise. Process-wide, so the CLI sets it, never the library.
 */
export async function keepHeapSmallWhileStreaming(): Promise<void> {
  const { setFlagsFromString } = await import('node:v8');
  // The young generation stays at its initial 1 MB semi-spaces instead of doubling.
  setFlagsFromString('--semi-space-growth-factor=1');
  // After a full collection the old generation may grow 20% over what is live (V8's default: 1.1x to 4x).
  setFlagsFromString('--heap-growing-percent=20');
}

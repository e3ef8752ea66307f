/**
 * Everything the program needs from the outside world arrives in one Deps object (gh's LoginOptions,
 * workers-auth's OAuthFlowContext). main.ts builds the real one; tests build their own. No module-level
 * singletons.
 */
import type { Env } from './config.js';
import type { OutStream } from './io/output.js';

export interface InStream extends NodeJS.ReadableStream {
  isTTY?: boolean;
}

/**
 * Signals as the program sees them. `signal` aborts on the first SIGINT/SIGTERM/SIGHUP outside a critical
 * section; `critical(fn)` holds those signals until fn settles (the refresh window between Box's answer and
 * the durable write), then acts on them.
 */
export interface Interrupts {
  readonly signal: AbortSignal;
  /**
   * Aborted as soon as a stop was asked for, even while `signal` is held back by an open critical section:
   * no new refresh may start (process-signals.ts). Absent: `signal` alone says so.
   */
  readonly stopRequested?: AbortSignal;
  critical<T>(fn: () => Promise<T>): Promise<T>;
  /** Exit code for the signal that interrupted us (130 SIGINT, 143 SIGTERM, 129 SIGHUP), if any. */
  exitCode(): number | undefined;
}

export interface Deps {
  env: Env;
  stdin: InStream;
  stdout: OutStream;
  stderr: OutStream;
  homeDir: string;
  /** Wall clock in ms since the epoch. Tests pass a fixed or advancing clock. */
  now(): number;
  /** Opens a URL in the user's browser. Real one imports `open` lazily. */
  openBrowser(url: string): Promise<void>;
  interrupts: Interrupts;
  pid: number;
  /** Whether a graphical display is likely (DISPLAY / WAYLAND_DISPLAY on Linux, always on macOS/Windows). */
  hasDisplay(): boolean;
}

/** Interrupts for tests and library use: never fires unless the caller aborts the controller. */
export function createManualInterrupts(
  controller = new AbortController(),
): Interrupts & { controller: AbortController } {
  return {
    controller,
    signal: controller.signal,
    critical: (fn) => fn(),
    exitCode: () => (controller.signal.aborted ? 130 : undefined),
  };
}

/**
 * The output port. stdout carries data only (listings, JSON, the token); everything for humans (progress,
 * hints, warnings, errors, the authorize URL) goes to stderr, as gh's Out/ErrOut and npm's display do.
 * The mode is chosen once: `json` (--json), `tty` (stderr is an interactive terminal: colour, spinners)
 * or `plain` (piped: stable, line-based text, no ANSI codes).
 *
 * Two guarantees for every caller, present and future (issue 15 items 1 and 7):
 * - No method throws because a stream failed (EPIPE, ENOSPC, EBADF, EAGAIN): output is best-effort, and
 *   nothing between a refresh POST and its save may fail because of a log line. A failed stdout write is
 *   data the user asked for: `dataLost` turns it into exit 1 (a reader that went away, EPIPE, is not a loss).
 * - Every line is filtered here: ESC (except our own colour codes), C0/C1 controls and bidi controls are
 *   escaped whoever built the text, so Box's strings, store keys and the environment cannot drive the
 *   terminal. Callers still escape the fields they interpolate (terminalSafe also escapes newlines).
 */
import { dataText, terminalSafe, terminalText } from './terminal-safe.js';

export interface OutStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
  once?(event: 'drain' | 'close' | 'error', listener: () => void): unknown;
  removeListener?(event: 'drain' | 'close' | 'error', listener: () => void): unknown;
  readonly destroyed?: boolean;
  /** Bytes accepted but not yet written (a pipe, socket or terminal whose reader is behind). */
  readonly writableLength?: number;
  /** The errno code of the first failed write, once one failed (io/fd-stream.ts). */
  readonly writeError?: string;
}

export type OutputMode = 'json' | 'tty' | 'plain';

export interface Spinner {
  update(text: string): void;
  succeed(text?: string): void;
  fail(text?: string): void;
  stop(): void;
}

export interface Output {
  readonly mode: OutputMode;
  readonly isJson: boolean;
  /** stdout is a terminal (aligned columns rather than tab-separated lines). */
  readonly stdoutIsTTY: boolean;
  /** stderr is an interactive terminal (spinners, progress). */
  readonly interactive: boolean;
  /** Raw data to stdout. Resolves when the stream accepted it (honours back-pressure). */
  data(text: string): Promise<void>;
  /** One JSON document on stdout. */
  json(doc: unknown): void;
  /** A line for humans on stderr. */
  info(line: string): void;
  success(line: string): void;
  warn(line: string): void;
  /** Only under --debug. Never pass bodies, tokens or Authorization headers. */
  debug(line: string): void;
  readonly debugEnabled: boolean;
  /** A stdout write failed (other than EPIPE): the data the user asked for did not arrive; exit non-zero. */
  readonly dataLost: boolean;
  /** stdout no longer takes data (its reader left, or it failed): a long listing can stop fetching. */
  readonly stdoutGone: boolean;
  /** A spinner on an interactive stderr; a no-op elsewhere (and under --json or CI). */
  spinner(text: string): Promise<Spinner>;
  /** Colours for stderr lines: identity functions unless colour is on there. */
  paint: Painter;
}

export interface Painter {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

export interface OutputOptions {
  stdout: OutStream;
  stderr: OutStream;
  env: Record<string, string | undefined>;
  json?: boolean;
  /** false when --no-color was given. */
  color?: boolean;
  debug?: boolean;
  /** The colour functions (loadColors()). Without them the output has no colour, whatever the streams are. */
  colors?: Painter;
}

/**
 * kleur's colour functions, loaded on demand: kleur reads process.stdout.isTTY when it is imported, which
 * creates Node's stdout stream, a cost every run would pay for colour it mostly does not use (io/fd-stream.ts).
 */
export async function loadColors(): Promise<Painter> {
  const { default: kleur } = await import('kleur');
  // kleur decides at import from stdout alone; we decide per stream and gate every call ourselves.
  kleur.enabled = true;
  return {
    bold: kleur.bold,
    dim: kleur.dim,
    red: kleur.red,
    green: kleur.green,
    yellow: kleur.yellow,
    cyan: kleur.cyan,
  };
}

/** createOutput, with the colour functions loaded when either stream will be coloured. */
export async function openOutput(opts: Omit<OutputOptions, 'colors'>): Promise<Output> {
  const wantsColor =
    decideColor(opts.stderr, opts.env, opts.color) ||
    (opts.json !== true && decideColor(opts.stdout, opts.env, opts.color));
  return createOutput({ ...opts, colors: wantsColor ? await loadColors() : undefined });
}

/** NO_COLOR (any non-empty value) and --no-color win; FORCE_COLOR forces; otherwise the stream's TTY state. */
export function decideColor(
  stream: OutStream,
  env: Record<string, string | undefined>,
  flag: boolean | undefined,
): boolean {
  if (flag === false) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

const NOOP_SPINNER: Spinner = { update() {}, succeed() {}, fail() {}, stop() {} };

const NO_COLORS: Painter = {
  bold: (s) => s,
  dim: (s) => s,
  red: (s) => s,
  green: (s) => s,
  yellow: (s) => s,
  cyan: (s) => s,
};

export function createOutput(opts: OutputOptions): Output {
  const isJson = opts.json === true;
  const interactive = opts.stderr.isTTY === true && !isCI(opts.env) && opts.env.TERM !== 'dumb';
  const mode: OutputMode = isJson ? 'json' : interactive ? 'tty' : 'plain';
  const color = opts.colors !== undefined && decideColor(opts.stderr, opts.env, opts.color);
  const dataColor = opts.colors !== undefined && !isJson && decideColor(opts.stdout, opts.env, opts.color);
  const paint = color ? opts.colors! : NO_COLORS;
  const debugEnabled = opts.debug === true;
  let dataLost = false;
  let stdoutThrew = false;
  const toStdout = (text: string): boolean => {
    try {
      return opts.stdout.write(dataText(text, dataColor));
    } catch (err) {
      stdoutThrew = true;
      if ((err as NodeJS.ErrnoException | undefined)?.code !== 'EPIPE') dataLost = true;
      return true;
    }
  };
  const line = (text: string) => {
    try {
      const safe = terminalText(text, color);
      opts.stderr.write(safe.endsWith('\n') ? safe : `${safe}\n`);
    } catch {
      // Best-effort: a message that cannot be written is lost, the work goes on.
    }
  };

  return {
    mode,
    isJson,
    stdoutIsTTY: opts.stdout.isTTY === true,
    interactive,
    debugEnabled,
    get dataLost() {
      return dataLost;
    },
    get stdoutGone() {
      return stdoutThrew || opts.stdout.writeError !== undefined || opts.stdout.destroyed === true;
    },
    paint,
    data(text: string): Promise<void> {
      if (toStdout(text) || !opts.stdout.once) return Promise.resolve();
      return settled(opts.stdout);
    },
    json(doc: unknown) {
      toStdout(`${JSON.stringify(doc, null, 2)}\n`);
    },
    info: line,
    success(text: string) {
      line(color ? `${paint.green('✓')} ${text}` : text);
    },
    warn(text: string) {
      line(`${paint.yellow('warning:')} ${text}`);
    },
    debug(text: string) {
      if (!debugEnabled) return;
      try {
        // Each physical line on its own, fully escaped: a stack trace stays readable, and nothing in a message
        // (Box's error text, a request id) can pass for a line of ours.
        for (const l of String(text).replace(/\n+$/, '').split('\n')) line(paint.dim(`debug: ${terminalSafe(l)}`));
      } catch {
        // The debug logger runs inside sendRequest, between a refresh POST and its save: it never throws.
      }
    },
    async spinner(text: string): Promise<Spinner> {
      if (!interactive || isJson) return NOOP_SPINNER;
      // A pty with no size (`script`, some docker/CI ttys) reports columns 0: ora then computes Infinity lines
      // to clear and loops forever in a synchronous write loop (no signal can stop it). No spinner there.
      if ((opts.stderr as { columns?: number }).columns === 0) return NOOP_SPINNER;
      try {
        return await startSpinner(opts.stderr, text);
      } catch {
        return NOOP_SPINNER;
      }
    },
  };
}

/** ora writes to the stream itself (frames, cursor codes): its text is filtered here, its failures dropped. */
async function startSpinner(stream: OutStream, text: string): Promise<Spinner> {
  const { default: ora } = await import('ora');
  // discardStdin: false, so Ctrl-C still reaches us while `connect` waits (STYLE.md).
  const s = ora({
    text: terminalSafe(text),
    stream: stream as NodeJS.WritableStream,
    discardStdin: false,
    isEnabled: true,
  }).start();
  const safely = (fn: () => void) => {
    try {
      fn();
    } catch {
      // Best-effort, as every other write.
    }
  };
  return {
    update(t) {
      safely(() => {
        s.text = terminalSafe(t);
      });
    },
    succeed(t) {
      safely(() => s.succeed(t === undefined ? t : terminalSafe(t)));
    },
    fail(t) {
      safely(() => s.fail(t === undefined ? t : terminalSafe(t)));
    },
    stop() {
      safely(() => s.stop());
    },
  };
}

/** Back-pressure: wait for 'drain', or for the stream to die ('close', 'error'), which would never drain. */
export function settled(stream: OutStream): Promise<void> {
  if (stream.destroyed === true) return Promise.resolve();
  return new Promise((resolve) => {
    const events = ['drain', 'close', 'error'] as const;
    const done = () => {
      for (const e of events) stream.removeListener?.(e, done);
      resolve();
    };
    for (const e of events) stream.once!(e, done);
  });
}

export function isCI(env: Record<string, string | undefined>): boolean {
  const ci = env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci !== 'false';
}

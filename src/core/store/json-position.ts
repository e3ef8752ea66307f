/**
 * Where a JSON text first goes wrong, as line and column, for the corrupt-store message (issue 15 item 9).
 * V8's JSON.parse message quotes up to 10 characters of the text ("Unexpected token 's', "{"a": secre"... is
 * not valid JSON"): in a token store those characters can be a token, and the message reaches stderr, --json
 * output and logs. So the parser's message is never shown; this scanner finds the position of the first error
 * itself and names only what kind of problem it is. Called only after JSON.parse failed, so speed is secondary.
 * Iterative (an explicit stack), so a file of 100,000 nested brackets cannot overflow the call stack.
 */

export interface JsonErrorPosition {
  /** 1-based. */
  line: number;
  /** 1-based, in characters. */
  column: number;
  /** What is wrong, without any of the text: "unexpected character", "unterminated string", ... */
  problem: string;
}

const WS = new Set([' ', '\t', '\n', '\r']);
const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPE_RE = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/y;

class JsonScanError extends Error {
  constructor(
    readonly offset: number,
    readonly problem: string,
  ) {
    super(problem);
  }
}

/** Scans `text` as JSON; undefined when it is valid. */
export function findJsonError(text: string): JsonErrorPosition | undefined {
  try {
    scan(text);
    return undefined;
  } catch (err) {
    if (!(err instanceof JsonScanError)) throw err;
    return { ...lineColumn(text, err.offset), problem: err.problem };
  }
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/** An open container. */
type Frame = '{' | '[';

function scan(text: string): void {
  let i = 0;
  const stack: Frame[] = [];
  const skip = () => {
    while (i < text.length && WS.has(text[i]!)) i++;
  };
  const fail = (problem: string, at = i): never => {
    throw new JsonScanError(at, i >= text.length && at >= text.length ? 'unexpected end of the file' : problem);
  };
  const string = () => {
    const start = i++;
    for (;;) {
      if (i >= text.length) fail('unterminated string', start);
      const c = text.charCodeAt(i);
      if (c === 0x22) return void i++;
      if (c < 0x20) fail('control character inside a string');
      if (c === 0x5c) {
        ESCAPE_RE.lastIndex = i;
        if (!ESCAPE_RE.test(text)) fail('invalid escape in a string');
        i = ESCAPE_RE.lastIndex;
      } else i++;
    }
  };
  const keyColon = () => {
    skip();
    if (text[i] !== '"') fail('expected a double-quoted property name');
    string();
    skip();
    if (text[i] !== ':') fail("expected ':' after a property name");
    i++;
  };
  // One value. A non-empty container pushes a frame and goes on with its first member (a loop, not a call:
  // no recursion however deep the nesting); the members after it are scanned by the loop below.
  const value = () => {
    for (;;) {
      skip();
      const c = text[i];
      if (c === '{' || c === '[') {
        i++;
        skip();
        if (text[i] === (c === '{' ? '}' : ']')) return void i++;
        stack.push(c);
        if (c === '{') keyColon();
        continue;
      }
      if (c === '"') string();
      else if (text.startsWith('true', i)) i += 4;
      else if (text.startsWith('false', i)) i += 5;
      else if (text.startsWith('null', i)) i += 4;
      else {
        NUMBER_RE.lastIndex = i;
        if (c === undefined || !NUMBER_RE.test(text)) fail('unexpected character');
        i = NUMBER_RE.lastIndex;
      }
      return;
    }
  };
  value();
  for (;;) {
    skip();
    const top = stack[stack.length - 1];
    if (top === undefined) break;
    const close = top === '{' ? '}' : ']';
    if (text[i] === close) {
      stack.pop();
      i++;
    } else if (text[i] === ',') {
      i++;
      if (top === '{') keyColon();
      value();
    } else fail(`expected ',' or '${close}'`);
  }
  if (i < text.length) fail('unexpected text after the end of the JSON value');
}

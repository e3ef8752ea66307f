/**
 * Issue 15 item 1: writing output never throws into the program. A stream that throws (EPIPE, ENOSPC, EBADF,
 * EAGAIN) synchronously, or a real stream that emits 'error' later, costs lines, never the work in progress;
 * a failed stdout write (data) is remembered so the command can exit non-zero. Item 7: every line that
 * reaches stderr or stdout is filtered centrally (ESC, C1, bidi), debug lines and stack traces included.
 */
import { EventEmitter } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BoxApiError } from '../../../src/errors.js';
import { createFdStream } from '../../../src/io/fd-stream.js';
import { createOutput, loadColors, type OutStream } from '../../../src/io/output.js';
import { renderError } from '../../../src/io/render-error.js';
import { CaptureStream } from '../../helpers/fake-deps.js';

const errno = (code: string) => Object.assign(new Error(`${code}: write failed`), { code });

class ThrowingStream implements OutStream {
  calls = 0;
  constructor(
    private code: string,
    public isTTY = false,
  ) {}
  write(): boolean {
    this.calls += 1;
    throw errno(this.code);
  }
}

describe('output is best-effort (issue 15 item 1)', () => {
  it.each(['EPIPE', 'ENOSPC', 'EBADF', 'EAGAIN', 'EIO'])(
    'no Output method throws when both streams throw %s',
    async (code) => {
      const out = createOutput({
        stdout: new ThrowingStream(code),
        stderr: new ThrowingStream(code),
        env: {},
        debug: true,
      });
      expect(() => out.info('progress')).not.toThrow();
      expect(() => out.success('refreshed a@b.c')).not.toThrow();
      expect(() => out.warn('careful')).not.toThrow();
      expect(() => out.debug('POST /oauth2/token -> 200')).not.toThrow();
      expect(() => out.json({ ok: true })).not.toThrow();
      await expect(out.data('row\n')).resolves.toBeUndefined();
      expect(() => renderError(new Error('boom'), out)).not.toThrow();
    },
  );

  it('a stdout that failed (other than a reader that left) marks the data as lost; stderr failures do not', async () => {
    const full = createOutput({ stdout: new ThrowingStream('ENOSPC'), stderr: new CaptureStream(), env: {} });
    await full.data('token\n');
    expect(full.dataLost).toBe(true);
    const left = createOutput({ stdout: new ThrowingStream('EPIPE'), stderr: new CaptureStream(), env: {} });
    await left.data('token\n');
    expect(left.dataLost).toBe(false);
    const noisy = createOutput({ stdout: new CaptureStream(), stderr: new ThrowingStream('ENOSPC'), env: {} });
    noisy.warn('x');
    await noisy.data('token\n');
    expect(noisy.dataLost).toBe(false);
  });

  it('data() resolves when a back-pressured stream dies instead of draining', async () => {
    const s = Object.assign(new EventEmitter(), { isTTY: false, write: () => false });
    const out = createOutput({ stdout: s, stderr: new CaptureStream(), env: {} });
    const p = out.data('x'.repeat(10));
    s.emit('close');
    await expect(p).resolves.toBeUndefined();
  });
});

describe.skipIf(process.platform === 'win32')('fd streams never throw (issue 15 item 1)', () => {
  const never = () => {
    throw new Error('the real stream must not be created');
  };

  it('/dev/full (ENOSPC): the write is dropped, reported once, and later writes are dropped too', () => {
    const fd = openSync('/dev/full', 'w');
    try {
      const codes: string[] = [];
      // /dev/full is a character device but not the null device: it would get the real stream. Force the
      // direct path the way a full regular file behaves by asking for it through a fake fstat-free fd kind.
      const s = createFdStream({ fd, stream: never, onWriteError: (c) => codes.push(c), direct: true });
      expect(() => s.write('line 1\n')).not.toThrow();
      expect(() => s.write('line 2\n')).not.toThrow();
      expect(codes).toEqual(['ENOSPC']);
    } finally {
      closeSync(fd);
    }
  });

  it('a descriptor open read-only (EBADF) does not throw', () => {
    const fd = openSync('/dev/null', 'r');
    try {
      const codes: string[] = [];
      const s = createFdStream({ fd, stream: never, onWriteError: (c) => codes.push(c) });
      expect(() => s.write('x')).not.toThrow();
      expect(codes).toEqual(['EBADF']);
    } finally {
      closeSync(fd);
    }
  });

  it("the real stream's later 'error' event (a terminal, or after an EAGAIN handoff) is caught and reported", () => {
    const real = Object.assign(new EventEmitter(), { isTTY: true, write: () => true });
    const codes: string[] = [];
    const fd = openSync('/dev/zero', 'w');
    try {
      createFdStream({ fd, stream: () => real as unknown as NodeJS.WriteStream, onWriteError: (c) => codes.push(c) });
      // Without a listener, EventEmitter throws an 'error' event: Node's uncaught exception.
      expect(() => real.emit('error', errno('EIO'))).not.toThrow();
      expect(codes).toEqual(['EIO']);
    } finally {
      closeSync(fd);
    }
  });
});

describe('every line is terminal-safe, centrally (issue 15 item 7)', () => {
  const OSC52 = '\u001b]52;c;ZWNobyBwd25lZA==\u0007';
  const CSI = '\u001b[2J\u001b[H';

  it('info, warn, success and debug escape ESC, C1 and bidi from any caller', () => {
    const stderr = new CaptureStream(false);
    const out = createOutput({ stdout: new CaptureStream(), stderr, env: {}, debug: true });
    out.info(`a ${OSC52} b`);
    out.warn(`c ${CSI}`);
    out.success('d \u009b31m \u202e');
    out.debug('POST /oauth2/token -> 200 request-id x\u009b2J\u009d0;t\u0007');
    expect(stderr.text).not.toMatch(/[\u001b\u0007\u009b\u009d\u202e]/u);
    expect(stderr.text).toContain('\\x1b]52;c;');
    expect(stderr.text).toContain('\\x9b');
  });

  it('a stack trace under --debug carries no raw control characters, each line prefixed', () => {
    const stderr = new CaptureStream(false);
    const out = createOutput({ stdout: new CaptureStream(), stderr, env: {}, debug: true });
    renderError(new BoxApiError(`token endpoint: ${OSC52}${CSI}`, { status: 400 }), out);
    expect(stderr.text).not.toMatch(/[\u001b\u0007]/u);
    for (const l of stderr.text.trimEnd().split('\n').slice(1)) expect(l).toMatch(/^(debug: |hint: |rerun)/);
  });

  it('colour from our own painter survives on a terminal; injected escape sequences do not', async () => {
    const stderr = new CaptureStream(true);
    const out = createOutput({ stdout: new CaptureStream(true), stderr, env: {}, colors: await loadColors() });
    out.warn(`x ${CSI}`);
    expect(stderr.text).toContain('\u001b[33m');
    expect(stderr.text).not.toContain('\u001b[2J');
  });

  it('data lines keep newlines and tabs but escape ESC, C1 and bidi', async () => {
    const stdout = new CaptureStream(false);
    const out = createOutput({ stdout, stderr: new CaptureStream(), env: {} });
    await out.data(`a\tb\n${OSC52}\u202e\n`);
    // \uXXXX: the same escape is valid inside a JSON string (ls --json streams through data()).
    expect(stdout.text).toBe('a\tb\n\\u001b]52;c;ZWNobyBwd25lZA==\\u0007\\u202e\n');
  });

  it('--json stays valid JSON with C1, DEL and bidi escaped as \\u sequences', () => {
    const stdout = new CaptureStream(false);
    const out = createOutput({ stdout, stderr: new CaptureStream(), env: {}, json: true });
    const value = `e\u001b]0;t\u0007 \u009b \u009d \u007f \u202e \u2066 \u2028`;
    out.json({ email: value });
    expect(stdout.text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/u);
    expect(JSON.parse(stdout.text)).toEqual({ email: value });
  });
});

import { describe, expect, it } from 'vitest';
import { createOutput, decideColor, openOutput } from '../../../src/io/output.js';
import { terminalSafe } from '../../../src/io/terminal-safe.js';
import { CaptureStream } from '../../helpers/fake-deps.js';

describe('output modes', () => {
  it('piped: plain mode, data to stdout, messages to stderr', async () => {
    const stdout = new CaptureStream(false);
    const stderr = new CaptureStream(false);
    const out = createOutput({ stdout, stderr, env: {} });
    expect(out.mode).toBe('plain');
    await out.data('row\n');
    out.info('progress');
    out.warn('careful');
    expect(stdout.text).toBe('row\n');
    expect(stderr.text).toBe('progress\nwarning: careful\n');
  });

  it('openOutput loads colour only for a terminal (or FORCE_COLOR), and never under NO_COLOR or --no-color', async () => {
    const tty = () => new CaptureStream(true);
    const pipe = () => new CaptureStream(false);
    const painted = async (o: Parameters<typeof openOutput>[0]) => {
      const out = await openOutput(o);
      return out.paint.red('x') !== 'x';
    };
    expect(await painted({ stdout: tty(), stderr: tty(), env: {} })).toBe(true);
    expect(await painted({ stdout: pipe(), stderr: pipe(), env: { FORCE_COLOR: '1' } })).toBe(true);
    expect(await painted({ stdout: pipe(), stderr: pipe(), env: {} })).toBe(false);
    expect(await painted({ stdout: tty(), stderr: tty(), env: { NO_COLOR: '1' } })).toBe(false);
    expect(await painted({ stdout: tty(), stderr: tty(), env: {}, color: false })).toBe(false);
    // Without the colour functions, createOutput never colours (the caller did not load them).
    expect(createOutput({ stdout: tty(), stderr: tty(), env: {} }).paint.red('x')).toBe('x');
  });

  it('a terminal stderr is interactive, but not under CI', () => {
    const tty = () => new CaptureStream(true);
    expect(createOutput({ stdout: tty(), stderr: tty(), env: {} }).mode).toBe('tty');
    expect(createOutput({ stdout: tty(), stderr: tty(), env: { CI: 'true' } }).interactive).toBe(false);
    expect(createOutput({ stdout: tty(), stderr: tty(), env: {}, json: true }).mode).toBe('json');
  });

  it('spinners are no-ops off a terminal', async () => {
    const stderr = new CaptureStream(false);
    const out = createOutput({ stdout: new CaptureStream(), stderr, env: {} });
    const s = await out.spinner('waiting');
    s.update('x');
    s.succeed('done');
    expect(stderr.text).toBe('');
  });

  it('debug lines only with --debug', () => {
    const stderr = new CaptureStream(false);
    createOutput({ stdout: new CaptureStream(), stderr, env: {} }).debug('GET /2.0/users/me 200');
    expect(stderr.text).toBe('');
    createOutput({ stdout: new CaptureStream(), stderr, env: {}, debug: true }).debug('GET /2.0/users/me 200');
    expect(stderr.text).toBe('debug: GET /2.0/users/me 200\n');
  });

  it.each([
    [true, {}, undefined, true],
    [false, {}, undefined, false],
    [true, { NO_COLOR: '1' }, undefined, false],
    [true, { NO_COLOR: '' }, undefined, true],
    [false, { FORCE_COLOR: '1' }, undefined, true],
    [true, { FORCE_COLOR: '0' }, undefined, false],
    [true, {}, false, false],
    [false, { FORCE_COLOR: '1' }, false, false],
    [true, { TERM: 'dumb' }, undefined, false],
  ])('colour: tty=%s env=%j --no-color=%s -> %s', (isTTY, env, flag, expected) => {
    expect(decideColor(new CaptureStream(isTTY), env, flag)).toBe(expected);
  });
});

describe('terminalSafe', () => {
  it('escapes ESC, BEL, C1 and bidi controls but keeps non-ASCII letters', () => {
    expect(terminalSafe('\u001b[31mred\u001b[0m')).toBe('\\x1b[31mred\\x1b[0m');
    expect(terminalSafe('a\u0007b\u009bc')).toBe('a\\x07b\\x9bc');
    expect(terminalSafe('evil\u202Etxt.exe')).toBe('evil\\u202etxt.exe');
    expect(terminalSafe('Ünïcödé 日本語 📁')).toBe('Ünïcödé 日本語 📁');
    expect(terminalSafe('tab\there\nline')).toBe('tab\\there\\nline');
  });
});

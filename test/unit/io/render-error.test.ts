import { describe, expect, it } from 'vitest';
import { BoxApiError, ConfigError, ReconnectRequiredError } from '../../../src/errors.js';
import { createOutput, loadColors } from '../../../src/io/output.js';
import { renderError } from '../../../src/io/render-error.js';
import { CaptureStream } from '../../helpers/fake-deps.js';

const ANSI = /\u001b\[/;
const colors = await loadColors();

function outputFor(mode: 'json' | 'tty' | 'plain', extraEnv: Record<string, string> = {}, debug = false) {
  const stdout = new CaptureStream(mode === 'tty');
  const stderr = new CaptureStream(mode === 'tty');
  const out = createOutput({ stdout, stderr, env: { ...extraEnv }, json: mode === 'json', debug, colors });
  return { out, stdout, stderr };
}

describe('renderError', () => {
  it('plain (piped) mode: one line plus the hint, no ANSI codes, nothing on stdout', () => {
    const { out, stdout, stderr } = outputFor('plain');
    const r = renderError(new ReconnectRequiredError('a@b.c', 'a@b.c is not connected'), out);
    expect(r.exitCode).toBe(4);
    expect(stdout.text).toBe('');
    expect(stderr.text).toBe('error: a@b.c is not connected\nhint: run: box-qc connect --email a@b.c\n');
    expect(stderr.text).not.toMatch(ANSI);
  });

  it('terminal mode: colour on stderr', () => {
    const { out, stderr } = outputFor('tty');
    renderError(new ConfigError('BOX_CLIENT_ID is not set'), out);
    expect(stderr.text).toMatch(ANSI);
    expect(stderr.text).toContain('BOX_CLIENT_ID is not set');
  });

  it('NO_COLOR turns colour off even on a terminal', () => {
    const { out, stderr } = outputFor('tty', { NO_COLOR: '1' });
    renderError(new ConfigError('x'), out);
    expect(stderr.text).not.toMatch(ANSI);
  });

  it('json mode: exactly one JSON document on stdout, nothing on stderr', () => {
    const { out, stdout, stderr } = outputFor('json');
    const r = renderError(new BoxApiError('folder 5 not found', { status: 404, requestId: 'abc' }), out);
    expect(r.exitCode).toBe(1);
    expect(stderr.text).toBe('');
    const doc = JSON.parse(stdout.text);
    expect(doc).toEqual({
      ok: false,
      error: { code: 'E_BOX_API', message: 'folder 5 not found', exitCode: 1, status: 404, requestId: 'abc' },
    });
  });

  it('unknown errors: message and a --debug hint, never a stack trace', () => {
    const { out, stderr } = outputFor('plain');
    const r = renderError(new TypeError('boom'), out);
    expect(r.exitCode).toBe(1);
    expect(stderr.text).toBe('error: boom\nrerun with --debug for details\n');
    expect(stderr.text).not.toContain('    at ');
  });

  it('--debug shows the stack', () => {
    const { out, stderr } = outputFor('plain', {}, true);
    renderError(new TypeError('boom'), out);
    expect(stderr.text).toContain('    at ');
  });

  it('escapes control characters coming from untrusted text', () => {
    const { out, stderr } = outputFor('plain');
    renderError(new BoxApiError('name \u001b]0;pwned\u0007 bad', { status: 400 }), out);
    expect(stderr.text).not.toContain('\u001b');
    expect(stderr.text).toContain('\\x1b]0;pwned\\x07');
  });
});

import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { renderPage, escapeHtml } from '../../../src/core/oauth/callback-page.js';
import { classifyCallback, parseRedirectedUrl, safeErrorCode } from '../../../src/core/oauth/callback-params.js';

describe('callback page', () => {
  it('is a small self-closing page whose CSP allows exactly the inline close script', () => {
    const page = renderPage('success');
    expect(page.status).toBe(200);
    expect(page.body).toContain('You can close this tab');
    // The page is answered before the code exchange: it must not claim a connection the terminal may still refuse.
    expect(page.body.toLowerCase()).not.toMatch(/\bconnected\b/);
    const script = /<script>(.*?)<\/script>/.exec(page.body)![1]!;
    const hash = createHash('sha256').update(script).digest('base64');
    expect(page.headers['Content-Security-Policy']).toContain(`default-src 'none'; script-src 'sha256-${hash}'`);
    expect(page.headers).toMatchObject({
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-store',
      'Referrer-Policy': 'no-referrer',
    });
  });

  it('uses generic status pages for refused requests', () => {
    expect(renderPage('bad-request').status).toBe(400);
    expect(renderPage('not-found').status).toBe(404);
    expect(renderPage('method-not-allowed').headers.Allow).toBe('GET');
    expect(renderPage('too-large').status).toBe(431);
    expect(renderPage('bad-request').body).not.toContain('<script>');
  });

  it('escapes HTML metacharacters', () => {
    expect(escapeHtml(`<script>alert("x")</script>&'`)).toBe(
      '&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;&#38;&#39;',
    );
  });
});

describe('callback parameters', () => {
  const ok = async () => undefined;
  const bad = async () => {
    throw new Error('bad state');
  };

  it('checks the state before looking at code or error', async () => {
    await expect(classifyCallback(new URLSearchParams('code=c&state=s'), bad)).rejects.toThrow('bad state');
    await expect(classifyCallback(new URLSearchParams('error=access_denied&state=s'), bad)).rejects.toThrow();
    expect(await classifyCallback(new URLSearchParams('code=c&state=s'), ok)).toEqual({ kind: 'code', code: 'c' });
    expect(
      await classifyCallback(new URLSearchParams('error=access_denied&error_description=<b>&state=s'), ok),
    ).toEqual({ kind: 'error', error: 'access_denied' });
  });

  it('refuses repeated parameters, a missing code and a weird error code', async () => {
    expect(await classifyCallback(new URLSearchParams('code=a&code=b&state=s'), ok)).toBeUndefined();
    expect(await classifyCallback(new URLSearchParams('state=s'), ok)).toBeUndefined();
    expect(safeErrorCode('<script>')).toBe('unknown_error');
    expect(safeErrorCode('access_denied')).toBe('access_denied');
  });

  it('parses a pasted redirected URL and refuses other URLs', () => {
    const redirect = new URL('http://127.0.0.1:53117/callback');
    expect(parseRedirectedUrl(" 'http://127.0.0.1:40000/callback?code=c&state=s' ", redirect).get('code')).toBe('c');
    expect(() => parseRedirectedUrl('not a url', redirect)).toThrow(/not a URL/);
    expect(() => parseRedirectedUrl('http://127.0.0.1:1/other?state=s', redirect)).toThrow(/not a box-qc callback/);
  });
});

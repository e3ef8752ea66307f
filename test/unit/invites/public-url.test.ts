import { describe, expect, it } from 'vitest';
import { loadConfig, requirePublicUrl } from '../../../src/config.js';
import { callbackUrl, inviteLink } from '../../../src/core/invites/links.js';

const load = (value: string | undefined) => loadConfig({ env: { BOX_QC_PUBLIC_URL: value }, homeDir: '/h' });

describe('BOX_QC_PUBLIC_URL', () => {
  it('is optional: unset or empty means no public URL', () => {
    expect(load(undefined).publicUrl).toBeUndefined();
    expect(load('  ').publicUrl).toBeUndefined();
    expect(() => requirePublicUrl(load(undefined))).toThrow(/BOX_QC_PUBLIC_URL is not set/);
  });

  it('drops a trailing slash; the callback and links hang off its path', () => {
    for (const raw of [
      'https://qc.example.com/box-qc',
      'https://qc.example.com/box-qc/',
      'https://qc.example.com/box-qc//',
    ]) {
      const url = requirePublicUrl(load(raw));
      expect(callbackUrl(url)).toBe('https://qc.example.com/box-qc/callback');
      expect(inviteLink(url, 'T'.repeat(43))).toBe(`https://qc.example.com/box-qc/connect/${'T'.repeat(43)}`);
    }
    expect(callbackUrl(requirePublicUrl(load('https://qc.example.com')))).toBe('https://qc.example.com/callback');
    expect(callbackUrl(requirePublicUrl(load('http://127.0.0.1:8080/')))).toBe('http://127.0.0.1:8080/callback');
    expect(callbackUrl(requirePublicUrl(load('http://[::1]:8080/x')))).toBe('http://[::1]:8080/x/callback');
  });

  it('refuses plain http off loopback, a query, a fragment, user info and garbage, naming the variable', () => {
    for (const raw of [
      'http://qc.example.com/box-qc',
      'https://qc.example.com/?a=1',
      'https://qc.example.com/#x',
      'https://user:pw@qc.example.com/',
      'qc.example.com',
      'ftp://qc.example.com/',
    ]) {
      expect(() => load(raw), raw).toThrow(/BOX_QC_PUBLIC_URL/);
      try {
        load(raw);
      } catch (err) {
        expect((err as Error).message.includes('pw')).toBe(false);
        expect((err as { exitCode: number }).exitCode).toBe(2);
      }
    }
  });
});

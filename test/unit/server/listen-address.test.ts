/** `--listen` parsing and the loopback rule that decides whether plain HTTP is allowed (issue 17). */
import { describe, expect, it } from 'vitest';
import { formatListen, isLoopbackListen, localhostWarning, parseListen } from '../../../src/server/listen-address.js';
import { hostMatcher } from '../../../src/server/host-check.js';

describe('parseListen', () => {
  it('takes an IPv4 or bracketed IPv6 literal and a port', () => {
    expect(parseListen('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('[::1]:8080')).toEqual({ host: '::1', port: 8080 });
    expect(parseListen('0.0.0.0:0')).toEqual({ host: '0.0.0.0', port: 0 });
  });

  it('takes localhost as the IPv4 loopback, keeping the name for the Host check', () => {
    expect(parseListen('localhost:8080')).toEqual({ host: '127.0.0.1', port: 8080, name: 'localhost' });
    expect(parseListen('LocalHost:0')).toEqual({ host: '127.0.0.1', port: 0, name: 'localhost' });
    expect(isLoopbackListen(parseListen('localhost:8080')!)).toBe(true);
  });

  it('refuses other names, missing or out-of-range ports and unbracketed IPv6', () => {
    for (const bad of [
      'localhost.example.com:8080',
      'localhost:',
      'localhost:65536',
      'example.com:80',
      '127.0.0.1',
      '127.0.0.1:65536',
      '::1:8080',
      '[::1]',
      ':8080',
      '300.1.1.1:80',
      '127.0.0.1:80 ',
    ]) {
      expect(parseListen(bad), bad).toBeUndefined();
    }
  });

  it('formats back to the Host header form', () => {
    expect(formatListen({ host: '::1', port: 8080 })).toBe('[::1]:8080');
    expect(formatListen({ host: '127.0.0.2', port: 9 })).toBe('127.0.0.2:9');
  });
});

describe('isLoopbackListen', () => {
  it('is 127.0.0.0/8 and ::1 only', () => {
    expect(isLoopbackListen({ host: '127.0.0.1', port: 1 })).toBe(true);
    expect(isLoopbackListen({ host: '127.0.0.2', port: 1 })).toBe(true);
    expect(isLoopbackListen({ host: '::1', port: 1 })).toBe(true);
    expect(isLoopbackListen({ host: '0.0.0.0', port: 1 })).toBe(false);
    expect(isLoopbackListen({ host: '::', port: 1 })).toBe(false);
    expect(isLoopbackListen({ host: '10.0.0.5', port: 1 })).toBe(false);
  });
});

describe('hostMatcher', () => {
  it('knows the public host (with or without its default port) and the listen address', () => {
    const m = hostMatcher(new URL('https://qc.example.com/box-qc'), { host: '::1', port: 8080 });
    expect(m('qc.example.com')).toBe('public');
    expect(m('qc.example.com:443')).toBe('public');
    expect(m('[::1]:8080')).toBe('listen');
    expect(m('qc.example.com:80')).toBeUndefined();
    expect(m('[::1]:8081')).toBeUndefined();
    expect(m(undefined)).toBeUndefined();
  });

  it('a localhost listen answers to localhost and to its address, with its port', () => {
    const m = hostMatcher(new URL('https://qc.example.com'), { host: '127.0.0.1', port: 8080, name: 'localhost' });
    expect(m('localhost:8080')).toBe('listen');
    expect(m('LOCALHOST:8080')).toBe('listen');
    expect(m('127.0.0.1:8080')).toBe('listen');
    expect(m('[::1]:8080')).toBe('listen');
    expect(m('localhost:8081')).toBeUndefined();
    expect(m('localhost')).toBeUndefined();
  });

  it('a wildcard listen counts each own address of the machine, with its port, as the listen address', () => {
    const m = hostMatcher(new URL('https://qc.example.com'), { host: '0.0.0.0', port: 8443 }, () => [
      '127.0.0.1',
      '10.0.0.5',
    ]);
    expect(m('10.0.0.5:8443')).toBe('listen');
    expect(m('127.0.0.1:8443')).toBe('listen');
    expect(m('10.0.0.6:8443')).toBeUndefined();
    expect(m('10.0.0.5:8080')).toBeUndefined();
    const six = hostMatcher(new URL('https://qc.example.com'), { host: '::', port: 8443 }, () => ['::1', 'fe80::1']);
    expect(six('[fe80::1]:8443')).toBe('listen');
  });
});

describe('localhostWarning', () => {
  it('warns of a plain-HTTP localhost public URL on serve port served on one loopback address only', () => {
    const warn = (url: string, listen: { host: string; port: number; name?: 'localhost' }) =>
      localhostWarning(new URL(url), listen);
    expect(warn('http://localhost:8080', { host: '127.0.0.1', port: 8080 })).toMatch(
      /listens on 127\.0\.0\.1:8080 only\): use --listen localhost:8080/,
    );
    expect(warn('http://LOCALHOST:8080/qc', { host: '::1', port: 8080 })).toMatch(/listens on \[::1\]:8080 only/);
    // Both loopbacks, a wildcard (answers on both), https or another port (a proxy in front), an IP URL.
    expect(warn('http://localhost:8080', { host: '127.0.0.1', port: 8080, name: 'localhost' })).toBeUndefined();
    expect(warn('http://localhost:8080', { host: '::', port: 8080 })).toBeUndefined();
    expect(warn('https://localhost:8443', { host: '0.0.0.0', port: 8443 })).toBeUndefined();
    expect(warn('http://localhost/', { host: '127.0.0.1', port: 8080 })).toBeUndefined();
    expect(warn('http://127.0.0.1:8080', { host: '127.0.0.1', port: 8080 })).toBeUndefined();
    expect(warn('https://qc.example.com', { host: '127.0.0.1', port: 8080 })).toBeUndefined();
  });
});

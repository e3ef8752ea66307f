import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_API_BASE_URL,
  DEFAULT_AUTHORIZE_URL,
  DEFAULT_REDIRECT_URI,
  apiUrl,
  isLoopbackHost,
  loadConfig,
  normalizeEmail,
  requireClientCredentials,
} from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

const home = '/home/q';

describe('loadConfig', () => {
  it('uses documented defaults when nothing is set', () => {
    const c = loadConfig({ env: {}, homeDir: home });
    expect(c.clientId).toBeUndefined();
    expect(c.clientSecret).toBeUndefined();
    expect(c.redirectUri.href).toBe(DEFAULT_REDIRECT_URI);
    expect(c.apiBaseUrl.href).toBe(`${DEFAULT_API_BASE_URL}/`);
    expect(c.authorizeUrl.href).toBe(DEFAULT_AUTHORIZE_URL);
    expect(c.storePath).toBe('/home/q/.config/box-qc/tokens.json');
    expect(c.storeSource).toBe('default');
    expect(c.defaultEmail).toBeUndefined();
  });

  it('reads every variable', () => {
    const c = loadConfig({
      homeDir: home,
      env: {
        BOX_CLIENT_ID: 'cid',
        BOX_CLIENT_SECRET: 'sec',
        BOX_REDIRECT_URI: 'http://[::1]:4000/cb',
        BOX_API_BASE_URL: 'http://127.0.0.1:9999',
        BOX_AUTHORIZE_URL: 'http://localhost:9999/api/oauth2/authorize',
        BOX_QC_STORE: '/tmp/x/tokens.json',
        BOX_QC_EMAIL: '  Alice@Example.COM ',
      },
    });
    expect(c.clientId).toBe('cid');
    expect(c.clientSecret).toBe('sec');
    expect(c.redirectUri.port).toBe('4000');
    expect(c.redirectUri.hostname).toBe('[::1]');
    expect(c.apiBaseUrl.origin).toBe('http://127.0.0.1:9999');
    expect(c.authorizeUrl.hostname).toBe('localhost');
    expect(c.storePath).toBe('/tmp/x/tokens.json');
    expect(c.storeSource).toBe('env');
    expect(c.defaultEmail).toBe('alice@example.com');
  });

  it('prefers --store over BOX_QC_STORE', () => {
    const c = loadConfig({ env: { BOX_QC_STORE: '/env.json' }, store: '/flag.json', homeDir: home });
    expect(c.storePath).toBe('/flag.json');
    expect(c.storeSource).toBe('flag');
  });

  it('uses XDG_CONFIG_HOME for the default store', () => {
    const c = loadConfig({ env: { XDG_CONFIG_HOME: '/xdg' }, homeDir: home });
    expect(c.storePath).toBe('/xdg/box-qc/tokens.json');
  });

  it.each([
    ['BOX_API_BASE_URL', 'http://api.example.com'],
    ['BOX_API_BASE_URL', 'not a url'],
    ['BOX_API_BASE_URL', 'ftp://127.0.0.1/'],
    ['BOX_AUTHORIZE_URL', 'http://10.0.0.5/authorize'],
    ['BOX_REDIRECT_URI', 'http://0.0.0.0:5000/callback'],
    ['BOX_REDIRECT_URI', 'https://example.com/callback'],
    ['BOX_REDIRECT_URI', 'http://192.168.1.10:5000/callback'],
    ['BOX_REDIRECT_URI', '::::'],
    ['BOX_QC_EMAIL', 'not-an-email'],
  ])('rejects %s=%s with a configuration error (exit 2) naming the variable', (name, value) => {
    let err: unknown;
    try {
      loadConfig({ env: { [name]: value }, homeDir: home });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(2);
    if (name !== 'BOX_QC_EMAIL') expect((err as Error).message).toContain(name);
  });

  it('accepts https anywhere and http on loopback hosts only', () => {
    expect(loadConfig({ env: { BOX_API_BASE_URL: 'https://api.example.com' }, homeDir: home }).apiBaseUrl.host).toBe(
      'api.example.com',
    );
    expect(loadConfig({ env: { BOX_API_BASE_URL: 'http://127.0.0.2:1' }, homeDir: home }).apiBaseUrl.host).toBe(
      '127.0.0.2:1',
    );
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('127.1.2.3')).toBe(true);
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
    expect(isLoopbackHost('example.com')).toBe(false);
  });

  it('isLoopbackHost judges IP literals exactly as node:net did (no node:net load at start-up)', () => {
    const hosts = [
      '127.0.0.1',
      '127.1',
      '127.0.0.01',
      '127.255.255.255',
      '127.256.0.1',
      '1127.0.0.1',
      '127.0.0.1.',
      '::1',
      '[::1]',
      '0:0:0:0:0:0:0:1',
      'localhost',
      'LOCALHOST',
      '::ffff:127.0.0.1',
      '10.0.0.1',
      '127.0.0.1 ',
      '0127.0.0.1',
      '127.00.0.1',
      '127.0.0.0',
      '[127.0.0.1]',
      '',
      '127.0.0.1\n',
    ];
    for (const raw of hosts) {
      const h = raw.replace(/^\[|\]$/g, '').toLowerCase();
      const before =
        h === 'localhost' ||
        (isIP(h) === 4 && h.startsWith('127.')) ||
        (isIP(h) === 6 && (h === '::1' || h === '0:0:0:0:0:0:0:1'));
      expect([raw, isLoopbackHost(raw)]).toEqual([raw, before]);
    }
  });
});

describe('requireClientCredentials', () => {
  it.each([
    [{}, 'BOX_CLIENT_ID and BOX_CLIENT_SECRET are not set'],
    [{ BOX_CLIENT_ID: 'x' }, 'BOX_CLIENT_SECRET is not set'],
    [{ BOX_CLIENT_SECRET: 'y' }, 'BOX_CLIENT_ID is not set'],
    [{ BOX_CLIENT_ID: ' ', BOX_CLIENT_SECRET: 'y' }, 'BOX_CLIENT_ID is not set'],
  ])('names the missing variable (%j) and exits 2', (env, message) => {
    const c = loadConfig({ env, homeDir: home });
    expect(() => requireClientCredentials(c)).toThrow(message);
    try {
      requireClientCredentials(c);
    } catch (e) {
      expect((e as ConfigError).exitCode).toBe(2);
      expect((e as ConfigError).message).not.toContain('y');
    }
  });

  it('returns both when set', () => {
    const c = loadConfig({ env: { BOX_CLIENT_ID: 'a', BOX_CLIENT_SECRET: 'b' }, homeDir: home });
    expect(requireClientCredentials(c)).toEqual({ clientId: 'a', clientSecret: 'b' });
  });
});

describe('normalizeEmail and apiUrl', () => {
  it('trims and lower-cases', () => {
    expect(normalizeEmail(' Bob@Example.com\n')).toBe('bob@example.com');
  });
  it.each(['', 'bob', 'a b@c.d', '@x', 'x@', 'a@b\u0007c'])('rejects %j', (raw) => {
    expect(() => normalizeEmail(raw)).toThrow(ConfigError);
  });
  it('keeps a path prefix of the base URL', () => {
    expect(apiUrl(new URL('http://127.0.0.1:5/box/'), '/2.0/users/me').href).toBe(
      'http://127.0.0.1:5/box/2.0/users/me',
    );
    expect(apiUrl(new URL('https://api.box.com'), '/oauth2/token').href).toBe('https://api.box.com/oauth2/token');
  });
});

// issue 15 item 8: `*.localhost` names go through DNS, so only literal loopback and the exact name `localhost` may use http.
describe('plain http only on literal loopback addresses and the exact name localhost (issue 15 item 8)', () => {
  const urlVars = ['BOX_API_BASE_URL', 'BOX_AUTHORIZE_URL'] as const;
  it.each(
    urlVars.flatMap((name) => [
      [name, 'http://box.localhost:8080'],
      [name, 'http://evil.localhost'],
      [name, 'http://a.b.localhost:1/x'],
      [name, 'http://localhost.:1'],
      [name, 'http://localhost.example.com:1'],
      [name, 'http://127.0.0.1.nip.io:1'],
      [name, 'http://[::ffff:127.0.0.1]:1'],
      [name, 'http://[::2]:1'],
    ]),
  )('refuses %s=%s (exit 2)', (name, value) => {
    let err: unknown;
    try {
      loadConfig({ env: { [name]: value }, homeDir: home });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(2);
    expect((err as Error).message).toContain(name);
  });

  it.each(
    urlVars.flatMap((name) => [
      [name, 'http://127.0.0.1:9', '127.0.0.1:9'],
      [name, 'http://127.0.0.2:9', '127.0.0.2:9'],
      [name, 'http://127.255.255.254:9', '127.255.255.254:9'],
      [name, 'http://127.1:9', '127.0.0.1:9'],
      [name, 'http://[::1]:9', '[::1]:9'],
      [name, 'http://[0:0:0:0:0:0:0:1]:9', '[::1]:9'],
      [name, 'http://localhost:9', 'localhost:9'],
      [name, 'http://LocalHost:9', 'localhost:9'],
      [name, 'https://box.localhost:9', 'box.localhost:9'],
    ]),
  )('accepts %s=%s', (name, value, host) => {
    const c = loadConfig({ env: { [name]: value }, homeDir: home });
    expect((name === 'BOX_API_BASE_URL' ? c.apiBaseUrl : c.authorizeUrl).host).toBe(host);
  });

  it('isLoopbackHost: literal loopback and exactly `localhost`, nothing resolved by DNS', () => {
    for (const h of ['127.0.0.1', '127.9.9.9', '[::1]', '::1', 'localhost', 'LOCALHOST'])
      expect(isLoopbackHost(h), h).toBe(true);
    for (const h of [
      'box.localhost',
      'a.b.localhost',
      'localhost.',
      'localhost.localdomain',
      '0.0.0.0',
      '[::]',
      '128.0.0.1',
      '::ffff:127.0.0.1',
    ]) {
      expect(isLoopbackHost(h), h).toBe(false);
    }
  });

  it.each(['http://box.localhost:5000/callback', 'http://localhost.:5000/callback', 'http://127.0.0.2:5000/callback'])(
    'BOX_REDIRECT_URI=%s is refused (exit 2)',
    (value) => {
      expect(() => loadConfig({ env: { BOX_REDIRECT_URI: value }, homeDir: home })).toThrow(/BOX_REDIRECT_URI/);
    },
  );
});

// issue 15 item 10: userinfo in a Box URL is refused, and the message never echoes it.
describe('no user name or password in a Box URL (issue 15 item 10)', () => {
  it.each([
    ['BOX_API_BASE_URL', 'https://alice:hunter2-secret@api.box.com'],
    ['BOX_API_BASE_URL', 'https://hunter2-secret@api.box.com'],
    ['BOX_API_BASE_URL', 'http://:hunter2-secret@127.0.0.1:9'],
    ['BOX_AUTHORIZE_URL', 'https://alice:hunter2-secret@account.box.com/api/oauth2/authorize'],
    ['BOX_REDIRECT_URI', 'http://alice:hunter2-secret@127.0.0.1:5000/callback'],
    ['BOX_REDIRECT_URI', 'http://hunter2-secret@localhost:5000/callback'],
  ])('refuses %s with userinfo, naming the variable without the value', (name, value) => {
    let err: unknown;
    try {
      loadConfig({ env: { [name]: value }, homeDir: home });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(name);
    expect(JSON.stringify({ m: e.message, h: e.hint, d: e.details })).not.toContain('hunter2');
  });
});

// issue 15 item 11: an empty store setting must never fall back to the default store.
describe('an empty store path is a configuration error (issue 15 item 11)', () => {
  it.each(['', '   ', '\t'])('--store %j is exit 2 naming --store', (store) => {
    expect(() => loadConfig({ env: {}, store, homeDir: home })).toThrow(/--store/);
    try {
      loadConfig({ env: {}, store, homeDir: home });
    } catch (e) {
      expect((e as ConfigError).exitCode).toBe(2);
    }
  });

  it.each(['', '  '])('BOX_QC_STORE=%j is exit 2 naming BOX_QC_STORE', (value) => {
    expect(() => loadConfig({ env: { BOX_QC_STORE: value }, homeDir: home })).toThrow(/BOX_QC_STORE/);
  });

  it('an empty BOX_QC_STORE does not matter when --store names a store', () => {
    expect(loadConfig({ env: { BOX_QC_STORE: '' }, store: '/flag.json', homeDir: home }).storePath).toBe('/flag.json');
  });
});

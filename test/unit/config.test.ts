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
    expect(loadConfig({ env: { BOX_API_BASE_URL: 'https://api.example.com' }, homeDir: home }).apiBaseUrl.host).toBe('api.example.com');
    expect(loadConfig({ env: { BOX_API_BASE_URL: 'http://127.0.0.2:1' }, homeDir: home }).apiBaseUrl.host).toBe('127.0.0.2:1');
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('127.1.2.3')).toBe(true);
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
    expect(isLoopbackHost('example.com')).toBe(false);
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
    expect(apiUrl(new URL('http://127.0.0.1:5/box/'), '/2.0/users/me').href).toBe('http://127.0.0.1:5/box/2.0/users/me');
    expect(apiUrl(new URL('https://api.box.com'), '/oauth2/token').href).toBe('https://api.box.com/oauth2/token');
  });
});

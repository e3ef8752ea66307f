/** Fault injection (issue 4): status faults with Retry-After, counted sequences, drops before and after commit, stalls, drips. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { get, refresh, type TokenBody } from './helpers.js';

type Json = Record<string, unknown>;

let emu: Emulator;
beforeEach(async () => {
  emu = await startEmulator({ rootItems: 50 });
});
afterEach(async () => {
  await emu.close();
});

describe('status faults', () => {
  it("answers 429 with Retry-After in seconds and Box's rate_limit_exceeded body on the 2.0 API", async () => {
    const t = emu.mint({ login: 'alice@example.com' }).access_token;
    emu.faults.add({ route: '/2.0/folders/*/items', action: 'status', status: 429, retryAfterSeconds: 7, times: 1 });
    const res = await get(`${emu.url}/2.0/folders/0/items`, t);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(res.headers.get('box-request-id')).toBeTruthy();
    expect(await res.json()).toMatchObject({
      type: 'error',
      status: 429,
      code: 'rate_limit_exceeded',
      message: 'Request rate limit exceeded, please try again later',
    });
    expect((await get(`${emu.url}/2.0/folders/0/items`, t)).status).toBe(200);
  });

  it('answers 429 temporarily_unavailable on the token endpoint, without committing the refresh', async () => {
    const pair = emu.mint({ login: 'alice@example.com' });
    emu.faults.add({ route: '/oauth2/token', grantType: 'refresh_token', action: 'status', status: 429, times: 1 });
    const res = await refresh(emu, pair.refresh_token);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(((await res.json()) as Json).error).toBe('temporarily_unavailable');
    expect((await refresh(emu, pair.refresh_token)).status).toBe(200);
  });

  it('plays "429 twice, then 503 once, then normal" from counted rules', async () => {
    const t = emu.mint({ login: 'alice@example.com' }).access_token;
    emu.faults.add({ route: '/2.0/*', action: 'status', status: 429, times: 2 });
    emu.faults.add({ route: '/2.0/*', action: 'status', status: 503, times: 1 });
    const seen: number[] = [];
    for (let i = 0; i < 4; i++) seen.push((await get(`${emu.url}/2.0/users/me`, t)).status);
    expect(seen).toEqual([429, 429, 503, 200]);
    expect(emu.stats().faultsApplied).toBe(3);
    expect(emu.requests.map((r) => r.fault ?? '-')).toEqual(['status', 'status', 'status', '-']);
  });

  it.each([
    [500, 'internal_server_error'],
    [502, 'bad_gateway'],
    [503, 'unavailable'],
  ])('answers %i with code %s', async (status, code) => {
    emu.faults.add({ route: /^\/2\.0\//, action: 'status', status });
    const res = await get(`${emu.url}/2.0/users/me`);
    expect(res.status).toBe(status);
    expect(((await res.json()) as Json).code).toBe(code);
  });

  it('honours skip, method and a probability of 0', async () => {
    emu.faults.add({ route: '/2.0/users/me', action: 'status', status: 500, probability: 0 });
    emu.faults.add({ route: '/2.0/users/me', method: 'POST', action: 'status', status: 502 });
    emu.faults.add({ route: '/2.0/users/me', action: 'status', status: 503, skip: 1, times: 1 });
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) seen.push((await get(`${emu.url}/2.0/users/me`)).status);
    expect(seen).toEqual([401, 503, 401]);
  });
});

describe('connection faults', () => {
  it('drop: the connection closes before the handler runs, so nothing is committed', async () => {
    const pair = emu.mint({ login: 'alice@example.com' });
    emu.faults.add({ route: '/oauth2/token', action: 'drop', times: 1 });
    await expect(refresh(emu, pair.refresh_token)).rejects.toThrow();
    expect(emu.isLive(pair.refresh_token)).toBe(true);
    expect(emu.chainCheck('alice@example.com').refreshes).toBe(0);
  });

  it('drop-after-commit: the refresh is committed but the answer is lost', async () => {
    const pair = emu.mint({ login: 'alice@example.com' });
    emu.faults.add({ route: '/oauth2/token', grantType: 'refresh_token', action: 'drop-after-commit', times: 1 });
    await expect(refresh(emu, pair.refresh_token)).rejects.toThrow();
    expect(emu.isLive(pair.refresh_token)).toBe(false);
    const [event] = emu.chains('alice@example.com')['alice@example.com']!;
    expect(event).toMatchObject({ outcome: 'rotated', response: 'dropped', presentedWasLatest: true });
    expect(event!.committedAt).toBeGreaterThanOrEqual(event!.receivedAt);
    expect(emu.requests.at(-1)).toMatchObject({ grantType: 'refresh_token', status: 0, fault: 'drop-after-commit' });
  });

  it('stall-after-commit: the refresh is committed and the answer held past the client timeout', async () => {
    const pair = emu.mint({ login: 'alice@example.com' });
    emu.faults.add({ route: '/oauth2/token', action: 'stall-after-commit', ms: 60_000, times: 1 });
    const aborted = fetch(`${emu.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: pair.refresh_token,
        client_id: 'emulator-client-id',
        client_secret: 'emulator-client-secret',
      }),
      signal: AbortSignal.timeout(300),
    });
    await expect(aborted).rejects.toThrow();
    expect(emu.isLive(pair.refresh_token)).toBe(false);
    expect(emu.chains('alice@example.com')['alice@example.com']![0]).toMatchObject({
      outcome: 'rotated',
      response: 'stalled',
    });
  });

  it('latency delays the answer without changing it', async () => {
    emu.faults.add({ route: '/2.0/users/me', action: 'latency', ms: 50 });
    const res = await get(`${emu.url}/2.0/users/me`);
    expect(res.status).toBe(401);
    expect(emu.requests.at(-1)).toMatchObject({ status: 401, fault: 'latency' });
  });

  it('slow-drip sends the whole body a few bytes at a time', async () => {
    const pair = emu.mint({ login: 'alice@example.com' });
    emu.faults.add({ route: '/oauth2/token', action: 'slow-drip', chunkBytes: 64, ms: 5 });
    const res = await refresh(emu, pair.refresh_token);
    expect(res.status).toBe(200);
    const body = (await res.json()) as TokenBody;
    expect(emu.isLive(body.refresh_token)).toBe(true);
  });
});

describe('malform-after-commit (issue 15: malformed 200s)', () => {
  it('commits the refresh, then answers its 200 with fields changed or removed, or with an HTML body', async () => {
    const pair = emu.mint({ login: 'alice@example.com' });
    emu.faults.add({
      route: '/oauth2/token',
      grantType: 'refresh_token',
      action: 'malform-after-commit',
      patch: { expires_in: '3600', access_token: null },
      times: 1,
    });
    const res = await refresh(emu, pair.refresh_token);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Json;
    expect(body.expires_in).toBe('3600');
    expect(body).not.toHaveProperty('access_token');
    expect(emu.isLive(pair.refresh_token)).toBe(false);
    expect(emu.isLive(body.refresh_token as string)).toBe(true);
    emu.faults.add({
      route: '/oauth2/token',
      grantType: 'refresh_token',
      action: 'malform-after-commit',
      rawBody: '<html>hi</html>',
      times: 1,
    });
    const html = await refresh(emu, body.refresh_token as string);
    expect(html.status).toBe(200);
    expect(await html.text()).toBe('<html>hi</html>');
    expect(emu.isLive(body.refresh_token as string)).toBe(false);
  });
});

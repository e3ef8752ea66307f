/**
 * What serve's tests need from the emulator (issue 17): an extra redirect URI registered on the app (a served
 * callback beside the loopback one), and a request record with each request's query and Referer, so a test
 * can prove no request to Box carried an invite token in a URL or a Referer.
 */
import { afterEach, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { authorizeUrl, get } from './helpers.js';

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

it('registers extra redirect URIs on every client (redirectUris)', async () => {
  const served = 'https://qc.example.com/box-qc/callback';
  emu = await startEmulator({ autoApprove: true });
  expect((await get(authorizeUrl(emu, { redirect_uri: served }))).status).toBe(400);
  await emu.close();
  emu = await startEmulator({ autoApprove: true, redirectUris: [served] });
  const res = await get(authorizeUrl(emu, { redirect_uri: served }));
  expect(res.status).toBe(302);
  expect(res.headers.get('location')).toMatch(/^https:\/\/qc\.example\.com\/box-qc\/callback\?code=/);
});

it('records each request with its query and Referer', async () => {
  emu = await startEmulator({ autoApprove: true });
  await fetch(authorizeUrl(emu, { state: 'st-77' }), {
    redirect: 'manual',
    headers: { referer: 'https://qc.example.com/box-qc/connect/abc' },
  });
  await fetch(`${emu.url}/2.0/users/me`);
  const [authorize, me] = emu.requests;
  expect(authorize).toMatchObject({
    path: '/api/oauth2/authorize',
    referer: 'https://qc.example.com/box-qc/connect/abc',
  });
  expect(new URLSearchParams(authorize!.query).get('state')).toBe('st-77');
  expect(me).toMatchObject({ path: '/2.0/users/me', query: '', referer: undefined });
});

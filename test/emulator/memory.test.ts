/**
 * Issue 4 "Done when": listing a 1,000,000-item folder page by page keeps the emulator's RSS under 150 MB.
 * The emulator runs as `box-qc emulator` in a child process so its own peak RSS (VmHWM) is measured.
 */
import { describe, expect, it } from 'vitest';
import { control, startStandalone } from './standalone-helpers.js';

const ITEMS = 1_000_000;
const LIMIT_BYTES = 150 * 1024 * 1024;

describe('emulator memory', () => {
  it('lists a 1,000,000-item root folder in marker mode with peak RSS under 150 MB', async () => {
    const emu = await startStandalone(['--items', String(ITEMS)]);
    try {
      const before = await control<{ rss: number }>(emu.url, 'GET', 'memory');
      const { access_token: token } = await control<{ access_token: string }>(emu.url, 'POST', 'mint', {
        login: 'alice@example.com',
      });
      let marker: string | null | undefined;
      let count = 0;
      let lastId = '';
      do {
        const q = `usemarker=true&limit=1000${marker ? `&marker=${marker}` : ''}`;
        const res = await fetch(`${emu.url}/2.0/folders/0/items?${q}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { entries: Array<{ id: string }>; next_marker?: string | null };
        count += body.entries.length;
        lastId = body.entries.at(-1)?.id ?? lastId;
        marker = body.next_marker;
      } while (marker);
      expect(count).toBe(ITEMS);
      expect(lastId).toBeTruthy();
      const mem = await control<{ rss: number; vmHWM?: number }>(emu.url, 'GET', 'memory');
      const peak = mem.vmHWM ?? mem.rss;
      const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
      console.log(`emulator RSS: ${mb(before.rss)} MB at start, peak ${mb(peak)} MB after listing ${ITEMS} items`);
      expect(peak).toBeLessThan(LIMIT_BYTES);
    } finally {
      emu.child.kill('SIGINT');
      await emu.done;
    }
  }, 120_000);
});

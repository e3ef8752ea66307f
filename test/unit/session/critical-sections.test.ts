/** core/critical-sections.ts: what session close() waits for (REVIEW-1 finding 5). */
import { describe, expect, it } from 'vitest';
import { trackCriticalSections } from '../../../src/core/critical-sections.js';
import { createManualInterrupts } from '../../../src/deps.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('trackCriticalSections', () => {
  it('drain() resolves only after every running section settled, failed ones included', async () => {
    const sections = trackCriticalSections(createManualInterrupts());
    const done: string[] = [];
    const a = sections.interrupts.critical(async () => {
      await sleep(150);
      done.push('a');
    });
    const b = sections.interrupts.critical(async () => {
      await sleep(50);
      done.push('b');
      throw new Error('save failed');
    });
    expect(sections.active).toBe(2);
    await sections.drain();
    expect(done.sort()).toEqual(['a', 'b']);
    await a;
    await expect(b).rejects.toThrow('save failed');
    expect(sections.active).toBe(0);
  });

  it('refuses a section started once draining began, before running any of it (nothing sent)', async () => {
    const sections = trackCriticalSections(createManualInterrupts());
    await sections.drain();
    let ran = false;
    await expect(
      sections.interrupts.critical(async () => {
        ran = true;
      }),
    ).rejects.toMatchObject({ code: 'E_SESSION_CLOSED' });
    expect(ran).toBe(false);
  });

  it('keeps the inner interrupts: the same signal, and the inner critical still runs (signals held)', async () => {
    const inner = createManualInterrupts();
    let held = 0;
    const sections = trackCriticalSections({
      ...inner,
      critical: <T>(fn: () => Promise<T>) => {
        held += 1;
        return fn();
      },
    });
    expect(sections.interrupts.signal).toBe(inner.signal);
    expect(sections.interrupts.exitCode()).toBeUndefined();
    expect(await sections.interrupts.critical(async () => 7)).toBe(7);
    expect(held).toBe(1);
    expect({ ...sections.interrupts }.signal).toBe(inner.signal); // a spread copy keeps it too
  });
});

/**
 * sharedNextRun (store/next-run.ts): callers that ask while a run is in progress share the NEXT run, so a
 * `serve` answering 200 links at once reads the store twice, not 200 times, and nobody gets an answer from a
 * run that started before they asked (issue 17 bench).
 */
import { describe, expect, it } from 'vitest';
import { sharedNextRun } from '../../../src/core/store/next-run.js';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('sharedNextRun', () => {
  it('a caller during a run gets the next run, which starts after it asked; every later caller shares it', async () => {
    const started: number[] = [];
    const gates = [gate(), gate(), gate()];
    let runs = 0;
    let asked = 0;
    const shared = sharedNextRun(async () => {
      const n = runs++;
      started.push(asked);
      await gates[n]!.opened;
      return n;
    });
    asked = 1;
    const first = shared();
    asked = 2;
    const during = [shared(), shared(), shared()];
    gates[0]!.open();
    expect(await first).toBe(0);
    gates[1]!.open();
    expect(await Promise.all(during)).toEqual([1, 1, 1]);
    // The second run started after all three had asked (asked === 2 when it started).
    expect(started).toEqual([1, 2]);
    expect(runs).toBe(2);
    // Idle again: a new caller starts a run of its own.
    const later = shared();
    gates[2]!.open();
    expect(await later).toBe(2);
  });

  it('never runs twice at once, even for a caller that asks the moment a run ends (review of 0440c4c)', async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const shared = sharedNextRun(async () => {
      runs++;
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      return runs;
    });
    const first = shared();
    const during = shared();
    const late = first.then(() => shared());
    await Promise.all([during, late]);
    expect(runs).toBe(3);
    expect(maxActive).toBe(1);
  });

  it('a failed run fails every caller that shared it, and the next caller runs again', async () => {
    let n = 0;
    const g = gate();
    const shared = sharedNextRun(async () => {
      n++;
      if (n === 1) await g.opened;
      if (n <= 2) throw new Error(`run ${n} failed`);
      return n;
    });
    const first = shared();
    const during = [shared(), shared()];
    g.open();
    await expect(first).rejects.toThrow('run 1 failed');
    await expect(Promise.all(during)).rejects.toThrow('run 2 failed');
    await expect(during[1]).rejects.toThrow('run 2 failed');
    expect(await shared()).toBe(3);
  });

  it('onShared sees a value only when more than one caller receives it', async () => {
    const seen: number[] = [];
    const g = gate();
    let n = 0;
    const shared = sharedNextRun(
      async () => {
        const mine = n++;
        if (mine === 0) await g.opened;
        return mine;
      },
      (v) => seen.push(v),
    );
    const alone = shared();
    const a = shared();
    const b = shared();
    g.open();
    expect([await alone, await a, await b]).toEqual([0, 1, 1]);
    expect(seen).toEqual([1]);
  });
});

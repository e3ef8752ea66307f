/**
 * REVIEW-1 finding 5 (refresh --all): one user's outcome can never end the fan-out early. Old code ran the
 * workers under Promise.all and called onOutcome outside the try: a throw there (a per-user line on a full
 * disk) rejected refreshMany at once, and the command's finally closed the pool under the other POSTs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { refreshMany } from '../../../src/core/refresh-all.js';
import { GOOD, sessionKit, user } from './session-kit.js';
import { json } from '../http/local-server.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const emails = ['u1@x.com', 'u2@x.com', 'u3@x.com', 'u4@x.com', 'u5@x.com'];

async function kit() {
  // Each user's refresh token is RT-<email>; the answer names the user it rotated, 50 ms late.
  const k = await sessionKit(
    undefined,
    (req) => {
      const spent = new URLSearchParams(req.body).get('refresh_token') ?? '';
      return (rq, res) =>
        setTimeout(
          () => json(200, { ...GOOD(0), access_token: `AT-new-${spent}`, refresh_token: `${spent}-new` })(rq, res),
          50,
        );
    },
    cleanups,
  );
  for (const e of emails) k.store.doc.users[e] = user({ refresh_token: `RT-${e}` });
  return k;
}

describe('refreshMany isolates every user', () => {
  it('a throwing onOutcome for user 1 leaves users 2..N refreshed and saved, and refreshMany resolves', async () => {
    const { store, session } = await kit();
    const seen: string[] = [];
    const outcomes = await refreshMany(session, emails, {
      concurrency: 2,
      force: true,
      onOutcome: (o) => {
        seen.push(o.email);
        if (o.email === 'u1@x.com') throw Object.assign(new Error('write ENOSPC'), { code: 'ENOSPC' });
      },
    });
    expect(outcomes.map((o) => o.status)).toEqual(emails.map(() => 'refreshed'));
    for (const e of emails) expect(store.doc.users[e]).toMatchObject({ refresh_token: `RT-${e}-new`, generation: 4 });
    expect(seen.sort()).toEqual([...emails].sort());
  });

  it('an onOutcome that throws for every user still lets every refresh finish and be saved', async () => {
    const { store, session } = await kit();
    const outcomes = await refreshMany(session, emails, {
      concurrency: 3,
      force: true,
      onOutcome: () => {
        throw new Error('EPIPE');
      },
    });
    expect(outcomes).toHaveLength(emails.length);
    for (const e of emails) expect(store.doc.users[e]).toMatchObject({ refresh_token: `RT-${e}-new` });
  });

  it('a user whose refresh throws something unexpected is one failed outcome, the others are refreshed', async () => {
    const { store, session } = await kit();
    const update = store.update.bind(store);
    store.update = async (m) => {
      const probe = structuredClone(store.doc);
      m(probe);
      // u2's marker write blows up with a plain TypeError (before the POST: nothing is spent).
      if (probe.users['u2@x.com']?.refresh_in_flight && !store.doc.users['u2@x.com']?.refresh_in_flight)
        throw new TypeError('boom');
      return update(m);
    };
    const outcomes = await refreshMany(session, emails, { concurrency: 2, force: true });
    expect(outcomes.find((o) => o.email === 'u2@x.com')).toMatchObject({ status: 'failed' });
    for (const e of emails.filter((x) => x !== 'u2@x.com'))
      expect(store.doc.users[e]).toMatchObject({ refresh_token: `RT-${e}-new` });
  });
});

#!/usr/bin/env node
// bench/serve-flows (issue 17): N connect-link flows (default 200) completing at once against one
// `box-qc serve` (file store), the emulator in its own process with --auto-approve. Each flow is what a
// browser does: GET /connect/<token> on serve (302), GET the authorize URL on the emulator (302 with a code),
// GET /callback on serve (which exchanges the code and calls users/me, then saves). Serve's time per flow is
// the two serve requests. The emulator's own time is measured first with the same N at once: authorize, then
// the code exchange and users/me that a callback makes, sent straight to the emulator. Added latency =
// percentile of serve's time minus the same percentile of the emulator's own. Peak RSS is serve's VmHWM.
// Targets: p99 added < 50 ms, peak RSS < 120 MB, 0 flows lost (a flow is lost when its callback is not a 200
// or its user's refresh token is not live in the store afterwards).
// For reference, the same figures one flow at a time (serve's own cost per flow, with no queueing behind 199
// others on a small machine).
// Usage: node bench/serve-flows.js [flows=200] [sequential=30]
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  BIN,
  ROOT,
  baseEnv,
  boxQc,
  emitResult,
  fmtMB,
  fmtMs,
  readStore,
  startEmulatorProcess,
  tempDir,
} from './lib/common.js';

const [flows = 200, sequential = 30] = process.argv
  .slice(2)
  .filter((a) => /^\d+$/.test(a))
  .map(Number);
const TARGET = { p99AddedMs: 50, rssBytes: 120 * 1048576, lost: 0 };

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const now = () => performance.now();
/** email(0) is the warm-up flow's. */
const email = (i) => `serve${String(i).padStart(4, '0')}@example.com`;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function vmHwm(pid) {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** `box-qc invite` for each email, 8 at a time. */
async function makeLinks(env, n) {
  const links = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const r = await boxQc(['invite', '--email', email(i)], env, { keepStdout: true });
      if (r.code !== 0) throw new Error(`invite exited ${r.code}: ${r.stderr}`);
      links[i] = r.stdout.trim();
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return links;
}

/** The emulator alone: authorize, then the exchange and users/me a callback makes; timed from the exchange. */
async function emulatorFlow(emu, redirectUri) {
  const verifier = randomBytes(32).toString('base64url');
  const authorize = new URL(emu.env.BOX_AUTHORIZE_URL);
  for (const [k, v] of Object.entries({
    response_type: 'code',
    client_id: emu.env.BOX_CLIENT_ID,
    redirect_uri: redirectUri,
    state: randomBytes(16).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }))
    authorize.searchParams.set(k, v);
  const a = await fetch(authorize, { redirect: 'manual' });
  const code = new URL(a.headers.get('location')).searchParams.get('code');
  const t0 = now();
  const tok = await fetch(`${emu.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: redirectUri,
      client_id: emu.env.BOX_CLIENT_ID,
      client_secret: emu.env.BOX_CLIENT_SECRET,
    }),
  });
  const { access_token } = await tok.json();
  const me = await fetch(`${emu.url}/2.0/users/me`, { headers: { authorization: `Bearer ${access_token}` } });
  await me.text();
  return now() - t0;
}

async function serveFlow(link) {
  const t0 = now();
  const c = await fetch(link, { redirect: 'manual' });
  await c.text();
  const connectMs = now() - t0;
  if (c.status !== 302) return { ok: false, ms: connectMs, connectMs, callbackMs: 0 };
  const a = await fetch(c.headers.get('location'), { redirect: 'manual' });
  await a.text();
  const t1 = now();
  const cb = await fetch(a.headers.get('location'), { redirect: 'manual' });
  await cb.text();
  const callbackMs = now() - t1;
  return { ok: cb.status === 200, ms: connectMs + callbackMs, connectMs, callbackMs };
}

function startServe(env, port) {
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_SERVE_NODE_ARGS ?? '').split(' ').filter(Boolean),
      BIN,
      'serve',
      '--listen',
      `127.0.0.1:${port}`,
    ],
    {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (b) => {
    if (stderr.length < 200_000) stderr += b;
  });
  const ready = new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (/^listening on /m.test(stderr)) {
        clearInterval(timer);
        resolve();
      }
    }, 20);
    child.on('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`serve exited ${code}: ${stderr.slice(0, 2000)}`));
    });
  });
  const done = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, ready, done, stderr: () => stderr };
}

if (!existsSync(join(ROOT, 'dist'))) throw new Error('build first (npm run build)');
const emu = await startEmulatorProcess(['--auto-approve', '--items', '10']);
const { dir, cleanup } = tempDir('serve');
try {
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const env = baseEnv(dir, {
    ...emu.env,
    BOX_QC_STORE: join(dir, 'store', 'tokens.json'),
    BOX_QC_PUBLIC_URL: publicUrl,
  });
  // One more link than measured: the first warms serve up (lazy modules, the state key's first creation), as
  // any running serve is after its first link.
  const [warmup, ...rest] = await makeLinks(env, flows + 1 + sequential);
  const links = rest.slice(0, flows);
  const seqLinks = rest.slice(flows);

  const own = await Promise.all(Array.from({ length: flows }, () => emulatorFlow(emu, `${publicUrl}/callback`)));
  const ownSeq = [];
  for (let i = 0; i < sequential; i++) ownSeq.push(await emulatorFlow(emu, `${publicUrl}/callback`));

  const serve = startServe(env, port);
  await serve.ready;
  if (!(await serveFlow(warmup)).ok) throw new Error(`the warm-up flow failed: ${serve.stderr().slice(-2000)}`);
  const wall0 = now();
  const results = await Promise.all(links.map((l) => serveFlow(l)));
  const wallMs = now() - wall0;
  const seqResults = [];
  for (const l of seqLinks) seqResults.push(await serveFlow(l));
  const peakRssBytes = vmHwm(serve.child.pid);
  serve.child.kill('SIGTERM');
  const exitCode = await serve.done;

  const users = readStore(env.BOX_QC_STORE).users ?? {};
  let live = 0;
  for (let i = 1; i <= flows + sequential; i++) {
    const u = users[email(i)];
    if (u && (await emu.isLive(u.refresh_token))) live += 1;
  }
  const failedCallbacks = [...results, ...seqResults].filter((r) => !r.ok).length;
  const lost = Math.max(flows + sequential - live, failedCallbacks);
  const seqMs = seqResults.map((r) => r.ms);
  const seqP50AddedMs = pct(seqMs, 50) - pct(ownSeq, 50);
  const seqP99AddedMs = pct(seqMs, 99) - pct(ownSeq, 99);
  const serveMs = results.map((r) => r.ms);
  const p50AddedMs = pct(serveMs, 50) - pct(own, 50);
  const p99AddedMs = pct(serveMs, 99) - pct(own, 99);
  const met = {
    p99: p99AddedMs < TARGET.p99AddedMs,
    rss: peakRssBytes !== undefined && peakRssBytes < TARGET.rssBytes,
    lost: lost === TARGET.lost,
  };
  const mark = (ok) => (ok ? 'met' : 'MISSED');
  console.log(`serve-flows: ${flows} connect-link flows at once against one box-qc serve (file store)`);
  console.log(`  all flows done in      ${fmtMs(wallMs)} (serve exit ${exitCode} after SIGTERM)`);
  console.log(`  emulator's own time    p50 ${fmtMs(pct(own, 50))}, p99 ${fmtMs(pct(own, 99))} (exchange + users/me)`);
  console.log(`  serve's two requests   p50 ${fmtMs(pct(serveMs, 50))}, p99 ${fmtMs(pct(serveMs, 99))}`);
  const c = results.map((r) => r.connectMs);
  const b = results.map((r) => r.callbackMs);
  console.log(`    /connect/<token>     p50 ${fmtMs(pct(c, 50))}, p99 ${fmtMs(pct(c, 99))}`);
  console.log(`    /callback            p50 ${fmtMs(pct(b, 50))}, p99 ${fmtMs(pct(b, 99))}`);
  console.log(
    `  added latency          p50 ${fmtMs(p50AddedMs)}; p99 ${fmtMs(p99AddedMs)} (target < ${TARGET.p99AddedMs} ms): ${mark(met.p99)}`,
  );
  console.log(
    `  one flow at a time     added p50 ${fmtMs(seqP50AddedMs)}, p99 ${fmtMs(seqP99AddedMs)} (${sequential} flows; reference)`,
  );
  console.log(`  serve peak RSS         ${fmtMB(peakRssBytes)} (target < ${fmtMB(TARGET.rssBytes)}): ${mark(met.rss)}`);
  console.log(
    `  flows lost             ${lost} of ${flows + sequential} (live ${live}, failed callbacks ${failedCallbacks}; target 0): ${mark(met.lost)}`,
  );
  emitResult({
    name: 'serve-flows',
    flows,
    wallMs,
    ownP50Ms: pct(own, 50),
    ownP99Ms: pct(own, 99),
    p50AddedMs,
    p99AddedMs,
    sequential,
    seqP50AddedMs,
    seqP99AddedMs,
    peakRssBytes,
    lost,
    live,
    serveExit: exitCode,
  });
  if (exitCode !== 0) process.exitCode = 1;
} finally {
  await emu.close();
  cleanup();
}

/**
 * serve's lifecycle: the invite flow's ports (the store, one HTTP context, the client credentials), the
 * server, the startup line, and the stop. Requests to Box use their own abort signal, not the process's:
 * a SIGTERM must not abort a code exchange under way (its code is single-use, and the person would have to
 * start again); it is aborted only once the drain bound has passed.
 */
import type { CommandContext } from '../context.js';
import type { ClientCredentials } from '../../config.js';
import { closeHttpContext, createHttpContext, type HttpContext } from '../../core/http/request.js';
import type { InviteFlowPorts } from '../../core/invites/flow.js';
import type { TokenStore } from '../../core/store/types.js';
import type { ListenAddress } from '../../server/types.js';
import { compileWasmWithBaselineOnly, keepOldGenerationSmall } from '../../v8-flags.js';
import { hostname } from 'node:os';
import type { Notifier } from './notify.js';

export interface ServeRun {
  store: TokenStore;
  listen: ListenAddress;
  tls: { cert: Buffer; key: Buffer } | undefined;
  publicUrl: URL;
  credentials: ClientCredentials;
  metricsToken: string | undefined;
  drainMs: number;
  /** Delivers the transitions a saved grant recorded (issue 18); undefined when none is configured. */
  notifier?: Notifier | undefined;
}

function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

export async function startServe(ctx: CommandContext, run: ServeRun): Promise<void> {
  const { deps, out } = ctx;
  // Each commit reads and writes the whole store file: peak RSS under 120 MB (issue 17) with room (v8-flags.ts).
  await keepOldGenerationSmall();
  const config = ctx.config();
  const interrupts = deps.interrupts;
  const hardStop = new AbortController();
  let http: Promise<HttpContext> | undefined;
  const ports: InviteFlowPorts = {
    store: run.store,
    http: () =>
      (http ??= createHttpContext({
        env: deps.env,
        log: { debug: (line) => out.debug(line) },
        signal: hardStop.signal,
        beforeUndiciLoads: compileWasmWithBaselineOnly,
      })),
    apiBaseUrl: config.apiBaseUrl,
    authorizeUrl: config.authorizeUrl,
    credentials: run.credentials,
    publicUrl: run.publicUrl,
    now: () => deps.now(),
    critical: (fn) => interrupts.critical(fn),
    signal: hardStop.signal,
    host: hostname(),
  };
  // Deliveries run after the response (never delaying a save or a page), one at a time (notify.ts).
  const deliver = () => {
    const notifier = run.notifier;
    if (!notifier || interrupts.stopRequested?.aborted === true) return;
    void notifier.deliver(run.store);
  };
  const close = async () => {
    hardStop.abort();
    await Promise.allSettled([run.store.close(), http?.then(closeHttpContext)]);
  };
  try {
    const [flow, { startServer }, metrics] = await Promise.all([
      import('../../core/invites/flow.js'),
      import('../../server/http-server.js'),
      import('../../core/health/metrics.js'),
    ]);
    const server = await startServer(
      {
        flow: {
          start: (token) => flow.startInviteFlow(ports, token),
          finish: async (q) => {
            const result = await flow.finishInviteFlow(ports, q);
            if (result.kind === 'connected') deliver();
            return result;
          },
        },
        async healthy() {
          try {
            await run.store.read();
            return true;
          } catch {
            return false;
          }
        },
        // Held for the whole callback: the exchange, users/me and the save (process-signals.ts).
        critical: (fn) => interrupts.critical(fn),
        // The same exposition as `refresh --metrics-file`, from the store as it is now (issue 18).
        metrics: async () => metrics.renderMetrics(metrics.metricsInputFrom(await run.store.read(), deps.now())),
        metricsToken: run.metricsToken,
        publicUrl: run.publicUrl,
        log: (line) => out.info(line),
      },
      { listen: run.listen, tls: run.tls },
    );
    const publicUrl = run.publicUrl.href.replace(/\/+$/, '');
    out.info(`listening on ${server.url} (public URL ${publicUrl})`);
    // For scripts (and tests that listen on port 0): where it listens, as the run's one JSON document.
    if (out.isJson) out.json({ ok: true, url: server.url, public_url: publicUrl });
    await untilAborted(interrupts.stopRequested ?? interrupts.signal);
    out.info('stopping: no new requests; finishing those in flight');
    const { drained } = await server.shutdown(run.drainMs);
    if (!drained) out.warn(`requests still in flight after ${run.drainMs / 1000} s were cut off`);
    // Deliveries under way are not waited for: each event is claimed with a lease and stays pending, so the
    // next run (or the next serve) retries it (same id); a stop must exit 0 at once (review finding 5).
  } finally {
    await close();
  }
}

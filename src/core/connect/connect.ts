/**
 * The connect orchestrator (issue 5): one-process loopback flow, and the two-step headless flow across
 * processes (`--print-url`, then `--redirected-url`). Output, browser, clock, store and HTTP arrive as ports.
 *
 * PKCE across processes: the verifier is derived as HMAC(state key, jti) (see oauth/pkce.ts), so nothing
 * but the state key (0600, store folder) has to survive between the two processes and the JWT holds no secret.
 */
import { OperationError } from '../../errors.js';
import { buildAuthorizeUrl, redirectUriWithPort } from '../oauth/authorize-url.js';
import { classifyCallback, parseRedirectedUrl } from '../oauth/callback-params.js';
import { startLoopbackListener, type CallbackOutcome, type LoopbackListener } from '../oauth/loopback-listener.js';
import { createPkce, derivePkce, type Pkce } from '../oauth/pkce.js';
import { loadOrCreateStateKey, readStateKey } from '../oauth/state-key.js';
import { issueState, verifyState, StateRejectedError } from '../oauth/state.js';
import { finishConnect, type ConnectResult, type FinishPorts } from './finish.js';
import { readPastedUrls } from './paste.js';

export type { ConnectResult } from './finish.js';

export interface ConnectRequest {
  email: string;
  clientId: string;
  authorizeUrl: URL;
  redirectUri: URL;
  port?: number | undefined;
  scope?: string | undefined;
  /** Directory of the state key (the store folder). */
  stateKeyDir: string;
}

export interface ConnectUi {
  /** The URL on stderr, on its own line, always (issue 5 step 3). */
  showUrl(url: string): void;
  /** Undefined when the browser must not be opened (--no-browser, no display, not a terminal). */
  openBrowser: ((url: string) => Promise<void>) | undefined;
  browserFailed(): void;
  /** Starts the spinner; returns its stop function. */
  waiting(pasteAccepted: boolean): Promise<() => void>;
  pasteRefused(): void;
  debug(line: string): void;
}

export interface InteractivePorts extends FinishPorts {
  ui: ConnectUi;
  /** Aborts on Ctrl-C (deps.interrupts.signal). */
  interrupt: AbortSignal;
  timeoutMs: number;
  /** Pasted redirected URLs (headless, --no-browser); undefined to not read stdin. */
  paste?: NodeJS.ReadableStream | undefined;
}

export async function connectInteractive(req: ConnectRequest, ports: InteractivePorts): Promise<ConnectResult> {
  await ports.store.ensureWritable();
  const key = await loadOrCreateStateKey(req.stateKeyDir);
  const { state, jti } = await issueState(key, req.email, ports.now());
  const pkce = createPkce();
  const listener = await startLoopbackListener({
    redirectUri: req.redirectUri,
    port: req.port,
    log: ports.ui.debug,
    // The nonce held in memory: a state from another run (same key, same email) is a replay (C2).
    accept: (params) =>
      classifyCallback(params, (s) => verifyState(s, { key, email: req.email, now: ports.now(), expectedJti: jti })),
  });
  let outcome: CallbackOutcome;
  try {
    const url = buildAuthorizeUrl({
      authorizeUrl: req.authorizeUrl,
      clientId: req.clientId,
      redirectUri: listener.redirectUri,
      state,
      scope: req.scope,
      pkce,
    });
    outcome = await awaitCallback(listener, url, req.redirectUri, ports);
  } finally {
    await listener.close();
  }
  return finishOutcome(ports, req.email, outcome, { redirectUri: listener.redirectUri, codeVerifier: pkce.verifier });
}

/** Shows the URL, maybe opens the browser and reads pastes, and waits for the first valid callback. */
async function awaitCallback(
  listener: LoopbackListener,
  url: string,
  redirectUri: URL,
  ports: InteractivePorts,
): Promise<CallbackOutcome> {
  const timeout = AbortSignal.timeout(ports.timeoutMs);
  let stopSpinner: (() => void) | undefined;
  let stopPaste: (() => void) | undefined;
  try {
    ports.ui.showUrl(url);
    if (ports.ui.openBrowser) {
      // A browser that fails to open is not fatal: the URL is on screen (issue 5 step 3).
      await ports.ui.openBrowser(url).catch(() => ports.ui.browserFailed());
    }
    if (ports.paste) {
      stopPaste = readPastedUrls(ports.paste, redirectUri, async (params) => {
        if (!(await listener.offer(params))) ports.ui.pasteRefused();
      });
    }
    stopSpinner = await ports.ui.waiting(ports.paste !== undefined);
    return await listener.wait(AbortSignal.any([ports.interrupt, timeout]));
  } catch (err) {
    if (timeout.aborted && !ports.interrupt.aborted) {
      throw new OperationError(
        'E_CONNECT_TIMEOUT',
        `no answer from the browser within ${Math.round(ports.timeoutMs / 1000)} seconds`,
        {
          hint: 'run connect again (use --timeout <seconds> to wait longer, up to 600)',
          cause: err,
        },
      );
    }
    throw err;
  } finally {
    stopSpinner?.();
    stopPaste?.();
  }
}

async function finishOutcome(
  ports: FinishPorts,
  email: string,
  outcome: CallbackOutcome,
  pkce: { redirectUri: string; codeVerifier: string },
): Promise<ConnectResult> {
  if (outcome.kind === 'error') {
    // Box's `error` code only (already restricted to [A-Za-z0-9_.-]); never its description (STYLE.md).
    const denied = outcome.error === 'access_denied';
    throw new OperationError(
      denied ? 'E_ACCESS_DENIED' : 'E_AUTHORIZE_FAILED',
      denied
        ? `access was denied in the browser (Box: ${outcome.error}); ${email} is not connected`
        : `Box did not authorize box-qc (Box: ${outcome.error}); ${email} is not connected`,
      {
        hint: 'run connect again and choose "Grant access"',
        details: { boxError: outcome.error },
      },
    );
  }
  return finishConnect(ports, email, outcome.code, pkce);
}

/** Two-step flow, step 1: the URL to open elsewhere. No listener: the redirect is expected to fail. */
export async function printAuthorizeUrl(req: ConnectRequest, now: number): Promise<{ url: string; expiresAt: number }> {
  const key = await loadOrCreateStateKey(req.stateKeyDir);
  const { state, jti } = await issueState(key, req.email, now);
  const pkce: Pkce = derivePkce(key, jti);
  const redirectUri = req.port !== undefined ? redirectUriWithPort(req.redirectUri, req.port) : req.redirectUri.href;
  const url = buildAuthorizeUrl({
    authorizeUrl: req.authorizeUrl,
    clientId: req.clientId,
    redirectUri,
    state,
    scope: req.scope,
    pkce,
  });
  return { url, expiresAt: now + 600_000 };
}

/** Two-step flow, step 2: verify the signed state from the pasted URL (key from the store folder), finish. */
export async function connectFromRedirectedUrl(
  req: ConnectRequest,
  ports: FinishPorts,
  redirectedUrl: string,
): Promise<ConnectResult> {
  const params = parseRedirectedUrl(redirectedUrl, req.redirectUri);
  const pasted = new URL(redirectedUrl.trim().replace(/^['"<]+|['">]+$/g, ''));
  const key = await readStateKey(req.stateKeyDir);
  if (!key) throw stateRefused(req.email);
  let jti = '';
  const outcome = await classifyCallback(params, async (s) => {
    jti = (await verifyState(s, { key, email: req.email, now: ports.now() })).jti;
  }).catch((err: unknown) => {
    if (err instanceof StateRejectedError) throw stateRefused(req.email);
    throw err;
  });
  if (!outcome)
    throw new OperationError('E_REDIRECTED_URL', '--redirected-url carries neither an authorization code nor an error');
  // The token request must repeat the redirect_uri of the authorize request: same host, path and port.
  const redirectUri = `${pasted.protocol}//${pasted.host}${pasted.pathname}`;
  if (pasted.hostname !== req.redirectUri.hostname)
    throw new OperationError('E_REDIRECTED_URL', '--redirected-url does not point at the configured redirect host');
  return finishOutcome(ports, req.email, outcome, { redirectUri, codeVerifier: derivePkce(key, jti).verifier });
}

function stateRefused(email: string): OperationError {
  return new OperationError(
    'E_STATE_REJECTED',
    `the redirected URL was not issued by "connect --print-url --email ${email}" on this machine, or is older than 10 minutes`,
    {
      hint: `run: box-qc connect --email ${email} --print-url, and paste the new address`,
    },
  );
}

/**
 * A recording pass-through in front of the emulator (loopback only). The fault suite needs every secret the
 * emulator hands out, to prove that none reaches stdout, stderr or a command line (reliability.md T13), and
 * every token pair it issued, to prove a stored pair is one Box actually issued (T4). The emulator does not
 * expose its issued tokens, so the suite reads them off the wire instead of asking for a product hook.
 *
 * A request is forwarded only once its body is complete, and the upstream exchange finishes even when the
 * client has died meanwhile: exactly what Box sees when a refresher is killed with its POST in flight.
 */
import { createServer, request, Agent, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';

export interface TokenProxy {
  url: string;
  /** Every secret seen: access/refresh tokens (requests and answers), codes, client secrets. */
  secrets: Set<string>;
  /** `${access_token} ${refresh_token}` for every pair issued through the proxy. */
  pairs: Set<string>;
  /** Upstream exchanges not yet finished (a killed client's refresh may still be in the emulator's latency). */
  inFlight(): number;
  close(): Promise<void>;
}

function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
    stream.on('aborted', () => reject(new Error('aborted')));
  });
}

const SECRET_FIELDS = ['access_token', 'refresh_token', 'code', 'client_secret', 'token', 'state', 'code_verifier'];

export async function startTokenProxy(upstream: string): Promise<TokenProxy> {
  const target = new URL(upstream);
  // No keep-alive upstream: a long-lived agent reusing a socket the emulator is closing as idle (Node's 5 s
  // keepAliveTimeout) fails the request with a reset that the CLI, talking to Box directly, would not meet.
  const agent = new Agent({ keepAlive: false, maxSockets: 64 });
  const secrets = new Set<string>();
  const pairs = new Set<string>();
  const sockets = new Set<Socket>();
  let pending = 0;

  const remember = (v: unknown) => {
    if (typeof v === 'string' && v.length >= 8) secrets.add(v);
  };
  const recordForm = (body: Buffer) => {
    const form = new URLSearchParams(body.toString('utf8'));
    for (const f of SECRET_FIELDS) remember(form.get(f));
  };
  const recordAnswer = (body: Buffer) => {
    try {
      const j = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      for (const f of SECRET_FIELDS) remember(j[f]);
      if (typeof j.access_token === 'string' && typeof j.refresh_token === 'string')
        pairs.add(`${j.access_token} ${j.refresh_token}`);
    } catch {
      // not JSON (an HTML error page): nothing to record
    }
  };

  const server: Server = createServer((req, res) => {
    pending += 1;
    const finish = () => (pending -= 1);
    readAll(req)
      .then((body) => {
        if (req.url?.startsWith('/oauth2/')) recordForm(body);
        const auth = req.headers.authorization;
        if (auth?.startsWith('Bearer ')) remember(auth.slice(7));
        const up = request(
          {
            host: target.hostname,
            port: target.port,
            method: req.method,
            path: req.url,
            agent,
            headers: { ...req.headers, host: target.host },
          },
          (upRes) => {
            readAll(upRes)
              .then((answer) => {
                if (req.url?.startsWith('/oauth2/token')) recordAnswer(answer);
                if (!res.destroyed) {
                  const headers = { ...upRes.headers };
                  delete headers['transfer-encoding'];
                  headers['content-length'] = String(answer.length);
                  res.writeHead(upRes.statusCode ?? 502, headers);
                  res.end(answer);
                }
              })
              .catch(() => res.destroy())
              .finally(finish);
          },
        );
        up.on('error', () => {
          res.destroy();
          finish();
        });
        up.end(body);
      })
      .catch(() => {
        finish();
        res.destroy();
      });
  });
  server.keepAliveTimeout = 65_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    secrets,
    pairs,
    inFlight: () => pending,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        agent.destroy();
      }),
  };
}

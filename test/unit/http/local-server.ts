/** A tiny scripted HTTP server on 127.0.0.1:0 for HTTP-layer unit tests: each request gets the next reply. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** The client's port: equal for requests that shared one kept-alive connection. */
  remotePort: number | undefined;
}

export type Reply = (req: Recorded, res: ServerResponse) => void;

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
}

export function text(status: number, body: string, headers: Record<string, string> = {}): Reply {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'text/html', ...headers });
    res.end(body);
  };
}

export async function startLocalServer(replies: Reply[] | ((req: Recorded, n: number) => Reply)) {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req
      .setEncoding('utf8')
      .on('data', (d: string) => (body += d))
      .on('end', () => {
        const rec: Recorded = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body,
          remotePort: req.socket.remotePort,
        };
        requests.push(rec);
        const n = requests.length - 1;
        const reply = typeof replies === 'function' ? replies(rec, n) : replies[n];
        if (!reply) {
          res.writeHead(500).end('no scripted reply');
          return;
        }
        reply(rec, res);
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}`),
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A serve HTTP edge with a fake invite flow, and raw-socket clients for the hostile tests. */
import { connect } from 'node:net';
import { StoreBusyError } from '../../../src/errors.js';
import { startServer, type RunningServer, type ServerDeps } from '../../../src/server/http-server.js';
import type { FinishResult, StartResult } from '../../../src/server/types.js';
import type { ServerLimits } from '../../../src/server/limits.js';

export interface FakeFlow {
  starts: string[];
  finishes: string[];
  start: (token: string) => Promise<StartResult>;
  finish: (query: URLSearchParams) => Promise<FinishResult>;
}

export function fakeFlow(): FakeFlow {
  const flow: FakeFlow = {
    starts: [],
    finishes: [],
    async start(token) {
      flow.starts.push(token);
      if (token === 'good-token') return { kind: 'redirect', location: 'https://box.example/authorize?state=s1' };
      if (token === 'boom-token') throw new Error('secret-detail at /some/path');
      if (token === 'busy-token') throw new StoreBusyError('secret-detail: the store is busy');
      return { kind: 'gone' };
    },
    async finish(query) {
      flow.finishes.push(query.toString());
      if (query.get('error') === 'access_denied') return { kind: 'denied' };
      if (query.get('state') !== 'good-state') return { kind: 'bad_state' };
      if (query.get('code') === 'fail') return { kind: 'failed', message: 'Box said <no> & "why"' };
      return { kind: 'connected', email: 'al<i>ce@example.com', login: 'alice@box"example".com' };
    },
  };
  return flow;
}

export interface TestServer {
  server: RunningServer;
  flow: FakeFlow;
  logs: string[];
  port: number;
  base: string;
}

export async function startTestServer(
  over: Partial<ServerDeps> = {},
  limits: Partial<ServerLimits> = {},
  publicUrl = 'https://qc.example.com/box-qc',
): Promise<TestServer> {
  const flow = fakeFlow();
  const logs: string[] = [];
  const server = await startServer(
    {
      flow,
      healthy: async () => true,
      publicUrl: new URL(publicUrl),
      log: (line) => logs.push(line),
      ...over,
    },
    { listen: { host: '127.0.0.1', port: 0 }, limits },
  );
  const port = server.address.port;
  return { server, flow, logs, port, base: `http://127.0.0.1:${port}` };
}

/** Sends raw bytes and resolves with everything the server wrote before it closed (or `idleMs` of silence). */
export function raw(port: number, text: string | Buffer, idleMs = 1500): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (timer) clearTimeout(timer);
      socket.destroy();
      resolve(got);
    };
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(finish, idleMs);
    };
    socket.on('connect', () => {
      socket.write(text);
      arm();
    });
    socket.on('data', (d) => {
      got += d.toString('latin1');
      arm();
    });
    socket.on('close', finish);
    socket.on('error', (err) => (got === '' ? reject(err) : finish()));
  });
}

export function statusOf(response: string): number {
  return Number(/^HTTP\/1\.[01] (\d{3})/.exec(response)?.[1] ?? 0);
}

export function headerOf(response: string, name: string): string | undefined {
  const head = response.split('\r\n\r\n')[0] ?? '';
  const re = new RegExp(`^${name}:\\s*(.*)$`, 'im');
  return re.exec(head)?.[1]?.trim();
}

export function get(port: number, path: string, host = `127.0.0.1:${port}`, extra = ''): Promise<string> {
  return raw(port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n${extra}\r\n`);
}

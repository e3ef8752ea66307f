/**
 * A server in a worker thread, so this thread's event loop can be blocked while the server keeps answering:
 * what a laptop that sleeps, a VM that pauses or `kill -STOP` does to a process waiting for an answer.
 *
 * The worker tells us when a request has arrived; our handler for that message runs in the poll phase and
 * blocks the loop there (Atomics.wait). When it returns, Node runs the timers phase (now past the deadline)
 * before it polls the socket again: exactly the order a process meets after SIGCONT (epoll_wait returns
 * EINTR, libuv goes on to the timers). The answer is then already in the socket, unread.
 */
import { Worker } from 'node:worker_threads';

const SERVER = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    parentPort.postMessage({ received: req.url });
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json', 'box-request-id': 'rid-paused' });
      res.end(JSON.stringify({ answered: req.url }));
    }, workerData.replyAfterMs);
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (m) => { if (m === 'close') { server.closeAllConnections(); server.close(() => process.exit(0)); } });
`;

export interface PausingServer {
  url: URL;
  close(): Promise<void>;
}

/**
 * Each request: the server answers `replyAfterMs` after it arrived; our loop is blocked `blockMs` from its
 * arrival, except for GET /warm-up (load the transport first, so its loading does not eat the deadline).
 */
export async function startPausingServer(opts: { replyAfterMs: number; blockMs: number }): Promise<PausingServer> {
  const worker = new Worker(SERVER, { eval: true, workerData: { replyAfterMs: opts.replyAfterMs } });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (m: { port?: number; received?: string }) => {
      if (m.port !== undefined) resolve(m.port);
      if (m.received !== undefined && m.received !== '/warm-up')
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, opts.blockMs);
    });
  });
  return {
    url: new URL(`http://127.0.0.1:${port}`),
    close: async () => {
      worker.postMessage('close');
      await new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        setTimeout(() => void worker.terminate().then(() => resolve()), 2000).unref();
      });
    },
  };
}

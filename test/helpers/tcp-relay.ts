/**
 * A TCP relay to a local server whose connections can be silenced or cut: a network partition as the client
 * sees it (the PostgreSQL fencing and lock-connection tests).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export async function startRelay(
  port: number,
): Promise<{ port: number; silenceLast(): void; cutSilenced(): void; cutAll(): void; close(): Promise<void> }> {
  const pairs: Array<[Socket, Socket]> = [];
  const silenced: Array<[Socket, Socket]> = [];
  const server: Server = createServer((down) => {
    const up = connect(port, '127.0.0.1');
    down.pipe(up).pipe(down);
    for (const s of [up, down]) s.on('error', () => {});
    pairs.push([down, up]);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    silenceLast() {
      const pair = pairs.pop()!;
      pair[0].unpipe(pair[1]);
      pair[1].unpipe(pair[0]);
      pair[0].pause();
      pair[1].pause();
      silenced.push(pair);
    },
    cutSilenced() {
      for (const [a, b] of silenced.splice(0)) {
        a.destroy();
        b.destroy();
      }
    },
    cutAll() {
      for (const [a, b] of [...pairs.splice(0), ...silenced.splice(0)]) {
        a.destroy();
        b.destroy();
      }
    },
    async close() {
      for (const [a, b] of [...pairs, ...silenced]) {
        a.destroy();
        b.destroy();
      }
      await new Promise((r) => server.close(r));
    },
  };
}

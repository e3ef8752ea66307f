/**
 * Raw bytes to a listener on one TCP socket, for the tests of box-qc's HTTP listeners (hostile requests,
 * pipelining, unparsable bytes): resolves with every byte the server wrote before the socket closed. A reset
 * (or a write into a socket the server already closed) ends the exchange; it is not an error.
 */
import { connect } from 'node:net';

export function rawExchange(port: number, text: string, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host });
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (got += d));
    s.on('error', (e: NodeJS.ErrnoException) =>
      e.code === 'ECONNRESET' || e.code === 'EPIPE' ? resolve(got) : reject(e),
    );
    s.on('close', () => resolve(got));
    s.write(text);
  });
}

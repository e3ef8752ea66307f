/**
 * `serve --tls-cert/--tls-key`: read both files and check they form a usable pair before anything listens,
 * so a wrong path or a key that does not match its certificate is one line and exit 2, not a failed
 * handshake for the first person who opens a link.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../../errors.js';
import { terminalSafe } from '../../io/terminal-safe.js';

function readPem(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(`cannot read ${flag} ${terminalSafe(path)}: ${code}`, { code: 'E_TLS_FILE' });
  }
}

export function readTlsFiles(certPath: string, keyPath: string): { cert: Buffer; key: Buffer } {
  const cert = readPem('--tls-cert', certPath);
  const key = readPem('--tls-key', keyPath);
  try {
    createSecureContext({ cert, key });
  } catch {
    // OpenSSL's text names no secret, but says little more than this line does.
    throw new ConfigError('--tls-cert and --tls-key are not a usable pair (not PEM, or the key does not match)', {
      code: 'E_TLS_FILE',
    });
  }
  return { cert, key };
}

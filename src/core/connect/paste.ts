/**
 * Headless paste (issue 5 step 6a): while the listener waits, lines on stdin that look like the redirected
 * callback URL are fed through the same state check as the browser's request. Lines are capped so that a
 * runaway pipe cannot grow memory; nothing read is ever echoed.
 */
import { tryParseRedirectedUrl } from '../oauth/callback-params.js';

const MAX_LINE = 16 * 1024;

export function readPastedUrls(
  input: NodeJS.ReadableStream,
  redirectUri: URL,
  onUrl: (params: URLSearchParams) => Promise<void>,
): () => void {
  let buffer = '';
  const onData = (chunk: Buffer | string) => {
    buffer += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl: number;
    while ((nl = buffer.search(/\r?\n/)) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(buffer[nl] === '\r' ? nl + 2 : nl + 1);
      if (line !== '') void handle(line);
    }
    if (buffer.length > MAX_LINE) buffer = '';
  };
  const onEnd = () => {
    const line = buffer.trim();
    buffer = '';
    if (line !== '') void handle(line);
  };
  const handle = async (line: string) => {
    const params = tryParseRedirectedUrl(line, redirectUri);
    await onUrl(params ?? new URLSearchParams());
  };
  input.on('data', onData);
  input.on('end', onEnd);
  input.on('error', () => {});
  input.resume();
  return () => {
    input.off('data', onData);
    input.off('end', onEnd);
    input.pause();
  };
}

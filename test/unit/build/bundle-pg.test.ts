/**
 * scripts/bundle-pg.mjs (issue 20): the build-time patches of the installed pg apply to it as it is, and a pg
 * whose patched text changed fails loudly instead of being bundled unpatched or half-patched.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a build script in plain JavaScript, without type declarations
import { PATCHED_PG_FILES, patchPgSource } from '../../../scripts/bundle-pg.mjs';

const patchedFiles = PATCHED_PG_FILES as string[];
const patch = patchPgSource as (path: string, source: string) => string | undefined;
const nodeModules = dirname(dirname(dirname(createRequire(import.meta.url).resolve('pg'))));
const installed = (file: string) => join(nodeModules, file);

describe('the pg patches', () => {
  it('apply to the installed pg, each file changed', () => {
    expect(patchedFiles).toEqual(['pg/lib/stream.js', 'pg/lib/crypto/utils.js', 'pg/lib/connection-parameters.js']);
    for (const file of patchedFiles) {
      const source = readFileSync(installed(file), 'utf8');
      const out = patch(installed(file), source);
      expect(out, file).toBeTypeOf('string');
      expect(out, file).not.toBe(source);
    }
  });

  it('take the Cloudflare test out of the stream choice and load crypto and dns on first use', () => {
    const stream = patch(installed('pg/lib/stream.js'), readFileSync(installed('pg/lib/stream.js'), 'utf8'))!;
    expect(stream).toContain('function getStreamFuncs() {\n  if (false) {');
    const utils = patch(
      installed('pg/lib/crypto/utils.js'),
      readFileSync(installed('pg/lib/crypto/utils.js'), 'utf8'),
    )!;
    expect(utils).toContain("const nodeCrypto = lazyObject(() => require('crypto'))");
    expect(utils).not.toMatch(/^const nodeCrypto = require\('crypto'\)$/m);
    const params = installed('pg/lib/connection-parameters.js');
    expect(patch(params, readFileSync(params, 'utf8'))).toContain("const dns = lazyObject(() => require('dns'))");
  });

  it('leave every other file alone', () => {
    const client = installed('pg/lib/client.js');
    expect(patch(client, readFileSync(client, 'utf8'))).toBeUndefined();
  });

  it('fail the build, naming the file, when its text is not the one reviewed (even away from the patched lines)', () => {
    const file = installed('pg/lib/stream.js');
    const source = readFileSync(file, 'utf8');
    expect(() => patch(file, source.replace('isCloudflareRuntime()) {', 'isWorkers()) {'))).toThrow(
      /pg\/lib\/stream\.js is not the text its patches were reviewed against/,
    );
    const utils = installed('pg/lib/crypto/utils.js');
    expect(() =>
      patch(utils, `${readFileSync(utils, 'utf8')}\nif (!webCrypto) throw new Error('no crypto')\n`),
    ).toThrow(/pg\/lib\/crypto\/utils\.js is not the text/);
  });

  it('keep lazily loaded methods bound to their object (Web Crypto refuses any other this)', async () => {
    const utils = installed('pg/lib/crypto/utils.js');
    const patched = patch(utils, readFileSync(utils, 'utf8'))!;
    const module = { exports: {} as Record<string, (...a: unknown[]) => unknown> };
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the patched module text, run as CommonJS
    new Function('module', 'exports', 'require', patched)(module, module.exports, createRequire(utils));
    const digest = (await module.exports.sha256!(Buffer.from('abc'))) as ArrayBuffer;
    expect(Buffer.from(digest).toString('hex')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect((module.exports.randomBytes!(8) as Buffer).length).toBe(8);
    expect(await module.exports.hashByName!('SHA-256', Buffer.from('abc'))).toEqual(digest);
    expect(await module.exports.md5!('x')).toBe('9dd4e461268c8034f5c8564e155c67a6');
  });
});

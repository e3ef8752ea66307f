/** Flag parsing for refresh / token / ls: bad values exit 2 before any store or network access. */
import { describe, expect, it } from 'vitest';
import { runInProcess } from '../../helpers/fake-deps.js';

const env = { BOX_QC_STORE: '/nonexistent-dir/never/tokens.json', BOX_API_BASE_URL: 'http://127.0.0.1:9' };

describe('lifecycle flags', () => {
  it.each([
    [['refresh', '--min-valid', 'soon']],
    [['refresh', '--max-age', '7 days']],
    [['refresh', '--concurrency', '0']],
    [['refresh', '--concurrency', 'many']],
    [['refresh', '--all', '--email', 'a@x.com']],
    [['token', '--min-valid', '10']],
    [['ls', 'not-a-folder']],
    [['ls', '--limit', '0']],
    [['ls', '--email', 'not an email']],
  ])('%j exits 2', async (argv) => {
    const r = await runInProcess(argv, { env });
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
  });

  it('help lists examples for each command', async () => {
    for (const cmd of ['refresh', 'token', 'ls']) {
      const r = await runInProcess([cmd, '--help'], { env });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toContain('Examples:');
    }
  });
});

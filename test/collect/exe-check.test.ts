// exe_check.py: an executable with DWARF of its own is not given to gdb. The check runs inside gdb
// (gdb-argv.ts), before node has loaded; has_debug_info is plain Python, run here by python3.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { ASSETS } from '../../src/collect/safe-call/gdb-argv.js';
import { TARGETS_DIR } from '../helpers/targets.js';

const dir = mkdtempSync(join(tmpdir(), 'heapgap-debuginfo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** has_debug_info for each path, as exe_check.py answers it. */
async function hasDebugInfo(...paths: string[]): Promise<boolean[]> {
  const code = 'import json, sys; sys.path.insert(0, sys.argv[1]); import exe_check; print(json.dumps([exe_check.has_debug_info(p) for p in sys.argv[2:]]))';
  const r = await execa('python3', ['-c', code, ASSETS, ...paths]);
  return JSON.parse(r.stdout) as boolean[];
}

describe('exe_check.has_debug_info', () => {
  it('tells a -g build from a -g0 one and from a stripped one; a non-ELF or missing file has none', async () => {
    const src = join(TARGETS_DIR, 'single-thread.c');
    const built: [string, boolean][] = [];
    for (const [flags, want] of [[['-g'], true], [['-g0'], false], [['-g', '-gz'], true]] as const) {
      const out = join(dir, `t${flags.join('')}`);
      await execa('gcc', ['-O1', ...flags, '-pthread', '-o', out, src]);
      built.push([out, want]);
      if (want) {
        const stripped = `${out}-stripped`;
        await execa('strip', ['--strip-debug', '-o', stripped, out]);
        built.push([stripped, false]);
      }
    }
    expect(await hasDebugInfo(...built.map(([p]) => p), src, join(dir, 'missing'))).toEqual([...built.map(([, w]) => w), false, false]);
  });
});

// hasDebugInfo: an executable with DWARF of its own is not given to gdb (exe-debug-info.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { hasDebugInfo } from '../../src/collect/safe-call/exe-debug-info.js';
import { TARGETS_DIR } from '../helpers/targets.js';

const dir = mkdtempSync(join(tmpdir(), 'heapgap-debuginfo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('hasDebugInfo', () => {
  it('tells a -g build from a -g0 one and from a stripped one; a non-ELF file has none', async () => {
    const src = join(TARGETS_DIR, 'single-thread.c');
    for (const [flags, want] of [[['-g'], true], [['-g0'], false], [['-g', '-gz'], true]] as const) {
      const flag = flags.join(' ');
      const out = join(dir, `t${flags.join('')}`);
      await execa('gcc', ['-O1', ...flags, '-pthread', '-o', out, src]);
      expect(await hasDebugInfo(out), flag).toBe(want);
      if (want) {
        await execa('strip', ['--strip-debug', out]);
        expect(await hasDebugInfo(out), `${flag} stripped`).toBe(false);
      }
    }
    expect(await hasDebugInfo(src)).toBe(false);
    expect(await hasDebugInfo(join(dir, 'missing'))).toBe(false);
  });
});

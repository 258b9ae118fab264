// The in-stop calls against targets whose threads malloc/free without pause: some thread is always
// inside the allocator, holding its locks. Every session must end with the target alive, running,
// untraced and still making progress.
import { afterEach, describe, expect, it } from 'vitest';
import { detectProcess } from '../../src/allocators/detect-process.js';
import { prepareJemalloc } from '../../src/allocators/jemalloc/prepare.js';
import { prepareMimalloc } from '../../src/allocators/mimalloc/prepare.js';
import { prepareTcmalloc } from '../../src/allocators/tcmalloc/prepare.js';
import { missing, startAllocTarget } from '../helpers/alloc-targets.js';
import type { AllocTarget, OtherAllocator } from '../helpers/alloc-targets.js';
import { procState } from '../helpers/proc.js';
import { libcFor, readMaps, runStop } from '../helpers/stop-harness.js';

const targets: AllocTarget[] = [];
afterEach(async () => {
  await Promise.all(targets.splice(0).map((t) => t.stop()));
});

describe.each(['jemalloc', 'tcmalloc', 'mimalloc'] as OtherAllocator[])('%s under churn', (allocator) => {
  it.skipIf(missing(allocator))('inspects three times and releases twice; the target keeps running', async () => {
    const t = await startAllocTarget({ c: ['3', '2000', '200', '65536', '1'] }, allocator);
    targets.push(t);
    const maps = await readMaps(t.pid);
    const p = (await detectProcess(t.pid, maps)).present[0]!;
    expect(p.name).toBe(allocator);
    const plan = allocator === 'jemalloc' ? await prepareJemalloc(t.pid, p)
      : allocator === 'tcmalloc' ? await prepareTcmalloc(t.pid, p, maps)
      : await prepareMimalloc(t.pid, p, maps, (await libcFor(t.pid, maps)).addr.fputs!);
    let progress = Number((await t.readSelf()).progress);
    for (const mode of ['inspect', 'trim', 'inspect', 'trim', 'inspect'] as const) {
      const run = await runStop(t.pid, plan, mode);
      // Refusing (no thread at a safe point) is allowed; failing or harming is not.
      if (run.error) expect(run.error.kind, run.error.message).toBe('refused');
      expect(run.cleanup.every((c) => c === 'munmap -> 0')).toBe(true);
      const st = procState(t.pid);
      expect(st.alive).toBe(true);
      expect(st.tracerPid).toBe(0);
      expect(['S', 'R']).toContain(st.state);
      const now = Number((await t.readSelf()).progress);
      expect(now).toBeGreaterThan(progress);
      progress = now;
    }
  });
});

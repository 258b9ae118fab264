// Self-check of the C targets: each truth line must agree with an independent reading of
// /proc/PID/smaps (heap bases are rw-p anonymous VMA starts, Rss covers what the truth says
// is resident, trimmed heaps are small, mmapped chunks are resident).
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isPlainAnon, vmasIn } from './proc.js';
import type { Vma } from './proc.js';
import { execa } from 'execa';
import { addr, buildTarget, GCC_FLAGS, procState, readSmaps, startTarget, stopAllTargets, TARGET_NAMES, TARGETS_DIR } from './targets.js';
import type { RunningTarget, Truth } from './targets.js';

const HEAP = 64n << 20n;
const MiB = 1 << 20;

afterAll(stopAllTargets);

function rssOf(vmas: readonly Vma[]): number {
  return vmas.reduce((s, v) => s + v.rss, 0);
}

/** Checks every target's truth must pass. Returns the smaps reading for more checks. */
function checkCommon(t: RunningTarget): Vma[] {
  const { truth, pid } = t;
  const vmas = readSmaps(pid);
  const tasks = new Set(readdirSync(`/proc/${pid}/task`).map(Number));
  const allBases = new Set<string>();

  for (const th of truth.threads) {
    expect(tasks.has(th.tid), `tid ${th.tid} is a thread of ${pid}`).toBe(true);
    const blocks: Vma[] = [];
    for (const b of th.heapBases) {
      const base = addr(b);
      expect(base % HEAP, `${b} is 64 MiB-aligned`).toBe(0n);
      const v = vmas.find((x) => x.start === base);
      expect(v, `${b} starts a VMA`).toBeDefined();
      expect(v?.perms, `${b} is rw-p`).toBe('rw-p');
      expect(v && isPlainAnon(v), `${b} is anonymous`).toBe(true);
      blocks.push(...vmasIn(vmas, base, base + HEAP));
      allBases.add(b);
    }
    const rss = rssOf(blocks);
    expect(rss, `thread ${th.tid}: heap Rss covers liveBytes`).toBeGreaterThanOrEqual(th.liveBytes);
    if (th.pinned) {
      // Nothing in a pinned heap was trimmed: freed chunks stay resident too.
      expect(rss, `thread ${th.tid}: pinned heap Rss covers live + freed`).toBeGreaterThanOrEqual(th.liveBytes + th.freedBytes);
    }
  }
  // Every thread has its own arena (fewer than 8 arenas in these targets).
  expect(allBases.size).toBe(truth.threads.reduce((n, th) => n + th.heapBases.length, 0));

  const heap = vmas.find((v) => v.name === '[heap]');
  if (truth.main.liveBytes > 0) {
    expect(heap, 'main arena [heap] exists').toBeDefined();
    const rss = heap?.rss ?? 0;
    expect(rss).toBeGreaterThanOrEqual(truth.main.liveBytes);
    if (truth.main.pinned) expect(rss).toBeGreaterThanOrEqual(truth.main.liveBytes + truth.main.freedBytes);
  }

  if (truth.mmap.count > 0) {
    const inHeapBlock = (v: Vma): boolean => [...allBases].some((b) => v.start >= addr(b) && v.start < addr(b) + HEAP);
    const anon = vmas.filter((v) => isPlainAnon(v) && v.perms === 'rw-p' && !inHeapBlock(v));
    expect(rssOf(anon), 'anonymous rw-p Rss covers mmapped chunks').toBeGreaterThanOrEqual(truth.mmap.bytes);
    expect(truth.mmap.bytes % 4096).toBe(0);
  }
  return vmas;
}

async function withTarget(name: string, args: string[], fn: (t: RunningTarget, truth: Truth) => Promise<void> | void): Promise<void> {
  const t = await startTarget(name, args);
  try {
    await fn(t, t.truth);
  } finally {
    await t.stop();
  }
  const r = await t.proc;
  expect(r.exitCode, `${name} exits 0 on SIGTERM (stderr: ${t.stderr()})`).toBe(0);
  expect(procState(t.pid).alive).toBe(false);
}

describe('test targets', { timeout: 60_000 }, () => {
  it('all compile without warnings', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'heapgap-wall-'));
    try {
      for (const name of TARGET_NAMES) {
        const src = join(TARGETS_DIR, `${name}.c`);
        const r = await execa('gcc', [...GCC_FLAGS, '-Wextra', '-Werror', '-o', join(dir, name), src], { reject: false });
        expect(r.stderr, `${name}.c`).toBe('');
        expect(r.exitCode).toBe(0);
        expect(await buildTarget(name)).toMatch(new RegExp(`/${name}-[0-9a-f]{16}$`));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('pinned-threads: even threads pinned, odd threads trimmed', async () => {
    await withTarget('pinned-threads', [], (t, truth) => {
      const vmas = checkCommon(t);
      const chunk = 32768 + 16;
      expect(truth.threads).toHaveLength(4);
      expect(truth.main).toEqual({ liveBytes: chunk, freedBytes: 399 * chunk, pinned: true });
      truth.threads.forEach((th, i) => {
        expect(th.heapBases).toHaveLength(1);
        if (i % 2 === 0) {
          expect(th).toMatchObject({ liveBytes: chunk, freedBytes: 399 * chunk, pinned: true });
        } else {
          expect(th).toMatchObject({ liveBytes: 0, freedBytes: 400 * chunk, pinned: false });
          const base = addr(th.heapBases[0] ?? '0x0');
          // heap_trim gave the pages back: only about top_pad (128 KiB) + headers stay.
          expect(rssOf(vmasIn(vmas, base, base + HEAP))).toBeLessThan(MiB);
        }
      });
      expect(procState(t.pid).threads).toBe(5);
    });
  });

  it('pinned-threads honours its arguments', async () => {
    await withTarget('pinned-threads', ['2', '50', '8192'], (t, truth) => {
      checkCommon(t);
      expect(truth.threads).toHaveLength(2);
      expect(truth.threads[0]).toMatchObject({ liveBytes: 8208, freedBytes: 49 * 8208, pinned: true });
      expect(truth.threads[1]).toMatchObject({ liveBytes: 0, freedBytes: 50 * 8208, pinned: false });
    });
  });

  it('multi-heap: one arena over 3 heaps', async () => {
    await withTarget('multi-heap', [], (t, truth) => {
      const vmas = checkCommon(t);
      const [th] = truth.threads;
      expect(truth.threads).toHaveLength(1);
      expect(th?.heapBases).toHaveLength(3);
      expect(th).toMatchObject({ liveBytes: 2400 * 65552, freedBytes: 0, pinned: false });
      // each heap is at most 64 MiB: three of them hold 150 MiB
      for (const b of th?.heapBases ?? []) {
        const rss = rssOf(vmasIn(vmas, addr(b), addr(b) + HEAP));
        expect(rss).toBeGreaterThan(10 * MiB);
        expect(rss).toBeLessThanOrEqual(64 * MiB);
      }
    });
  });

  it('mmap-chunks: 40 mmapped chunks', async () => {
    await withTarget('mmap-chunks', [], (t, truth) => {
      checkCommon(t);
      expect(truth.mmap).toEqual({ count: 40, bytes: 40 * 1052672 });
      expect(truth.threads).toEqual([]);
      expect(truth.main).toEqual({ liveBytes: 32 * 4112, freedBytes: 32 * 4112, pinned: true });
    });
  });

  it('single-thread: holes in the main arena', async () => {
    await withTarget('single-thread', [], (t, truth) => {
      checkCommon(t);
      expect(procState(t.pid).threads).toBe(1);
      expect(truth.main).toEqual({ liveBytes: 1000 * 16400, freedBytes: 1000 * 16400, pinned: true });
      expect(truth.threads).toEqual([]);
    });
  });

  it('churn: progress file advances', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'heapgap-churn-'));
    const file = join(dir, 'progress');
    try {
      await withTarget('churn', ['4', file], async (t, truth) => {
        checkCommon(t);
        expect(truth.threads).toHaveLength(4);
        for (const th of truth.threads) expect(th.heapBases).toHaveLength(1);
        const read = async (): Promise<number> => {
          for (let i = 0; i < 100; i++) {
            try {
              return Number((await readFile(file, 'utf8')).trim());
            } catch {
              await new Promise((r) => setTimeout(r, 10));
            }
          }
          throw new Error('no progress file');
        };
        const a = await read();
        await new Promise((r) => setTimeout(r, 100));
        const b = await read();
        expect(b).toBeGreaterThan(a);
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fragmenter: pinned arenas full of free memory, under 150 MB', async () => {
    await withTarget('fragmenter', [], (t, truth) => {
      checkCommon(t);
      expect(truth.threads).toHaveLength(6);
      for (const th of truth.threads) {
        expect(th.pinned).toBe(true);
        expect(th.freedBytes).toBeGreaterThan(5 * th.liveBytes); // 90% of the objects, not exactly of the bytes
        expect(th.liveBytes + th.freedBytes).toBeGreaterThanOrEqual(20 * MiB);
      }
      expect(truth.main.pinned).toBe(true);
      expect(truth.mmap).toEqual({ count: 10, bytes: 6 * 528384 + 4 * 1052672 });
      const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${t.pid}/status`, 'utf8'))?.[1]);
      expect(rssKb * 1024).toBeLessThan(150e6);
    });
  });
});

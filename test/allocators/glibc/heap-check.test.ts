// The heap check (src/allocators/glibc/heap_check.py) on its own, with no gdb: it reads live
// targets through /proc/PID/mem (heap-check-harness.py) and must name each corruption the target
// says it made, find nothing in healthy heaps, and never raise or hang on mutated heap images.
// Needs python3 and gcc.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../helpers/cli.js';
import { KINDS, startCorrupt } from '../../helpers/corrupt-target.js';
import type { Mode } from '../../helpers/corrupt-target.js';
import { startTarget, stopAllTargets } from '../../helpers/targets.js';

const HARNESS = join(REPO_ROOT, 'test', 'allocators', 'glibc', 'heap-check-harness.py');

interface ArenaOut {
  index: number;
  address: string;
  mutex: number | null;
  problems: { list: string; bin: number | null; chunk: string | null; what: string; cause: string; corrupt: boolean }[];
  text: string[];
  figures: { fastChunks: number; binChunks: number; systemMem: number };
}

async function harness(args: string[]): Promise<string> {
  const r = await execa('python3', [HARNESS, ...args], { reject: false, timeout: 120_000 });
  if (r.exitCode !== 0) throw new Error(`harness ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout;
}

const live = async (pid: number, stop = false) =>
  JSON.parse(await harness(['live', String(pid), ...(stop ? ['stop'] : [])])) as { arenas: ArenaOut[]; ring: unknown[] };

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'heapgap-heap-check-'));
});
afterAll(async () => {
  await stopAllTargets();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('heap check on live targets, read through /proc/PID/mem', () => {
  const modes: Mode[] = ['single', 'main', 'thread'];
  for (const mode of modes) {
    it(`names every kind of corruption in the corrupted arena (${mode})`, { timeout: 120_000 }, async () => {
      for (const kind of KINDS) {
        const t = await startCorrupt(kind, mode);
        try {
          const out = await live(t.pid);
          const hit = out.arenas.find((a) => a.address === t.truth.arena);
          expect(hit, `${kind}: the corrupted arena ${t.truth.arena} is in the ring`).toBeDefined();
          expect(hit!.problems.length, `${kind}: one problem (${hit!.text.join(' | ')})`).toBe(1);
          const p = hit!.problems[0]!;
          expect({ list: p.list, bin: t.truth.list === 'top' ? null : p.bin, chunk: p.chunk, corrupt: p.corrupt }, `${kind}: ${hit!.text[0]}`).toEqual({
            list: t.truth.list,
            bin: t.truth.list === 'top' ? null : t.truth.bin,
            chunk: t.truth.chunk,
            corrupt: true,
          });
          // the line a user reads names the arena, the list and the chunk
          expect(hit!.text[0]).toContain(t.truth.chunk);
          expect(hit!.text[0]).toContain(t.truth.arena);
          // and nothing is blamed on the healthy arenas
          expect(out.arenas.filter((a) => a !== hit).flatMap((a) => a.text), kind).toEqual([]);
          expect(out.ring, kind).toEqual([]);
        } finally {
          await t.stop();
        }
      }
    });
  }

  it('finds nothing in healthy heaps: the control target and busy multi-threaded ones, stopped', { timeout: 120_000 }, async () => {
    for (const mode of modes) {
      const t = await startCorrupt('none', mode);
      try {
        const out = await live(t.pid);
        expect(out.arenas.flatMap((a) => a.text), `none/${mode}`).toEqual([]);
        const mine = out.arenas.find((a) => a.address === t.truth.arena)!;
        // the control target has chunks in fastbins, small and large bins
        expect(mine.figures.fastChunks).toBe(8);
        expect(mine.figures.binChunks).toBe(4);
      } finally {
        await t.stop();
      }
    }
    // Threads stopped anywhere, some inside malloc. An arena whose lock is held can be caught half
    // way through an update (seen: top's size not yet written): only unlocked arenas must be clean.
    for (const [name, args] of [['churn', ['4']], ['fragmenter', ['4', '8']]] as const) {
      const t = await startTarget(name, [...args]);
      for (let i = 0; i < 3; i++) {
        const out = await live(t.pid, true);
        expect(out.arenas.length, name).toBeGreaterThan(1);
        expect(out.arenas.filter((a) => a.mutex === 0).flatMap((a) => a.text), `${name} round ${i}`).toEqual([]);
      }
      await t.stop();
    }
  });
});

describe('heap check on mutated heap images', () => {
  it('never raises and always ends, whatever the bytes (fixed seeds)', { timeout: 240_000 }, async () => {
    for (const [name, start] of [
      ['corrupt-heap none thread', () => startCorrupt('none', 'thread')],
      ['churn', () => startTarget('churn', ['4'])],
    ] as const) {
      const t = await start();
      const image = join(dir, `${name.replace(/\W+/g, '-')}.img`);
      try {
        await harness(['image', String(t.pid), image]);
      } finally {
        await t.stop();
      }
      const summary = JSON.parse(await harness(['fuzz', image, '600', '7'])) as { iterations: number; raised: string[]; maxMs: number; withProblems: number };
      expect(summary.raised, name).toEqual([]);
      // most mutations land on the arena or chunk headers and must be seen
      expect(summary.withProblems, name).toBeGreaterThan(summary.iterations / 2);
      // a guard against a walk that does not end, not a timing claim (typical: tens of ms)
      expect(summary.maxMs, name).toBeLessThan(20_000);
    }
  });

  it('a step budget cuts the walk short and says so, as not corruption', async () => {
    const t = await startCorrupt('none', 'single');
    try {
      const py = [
        'import json, os, sys, importlib.util',
        `spec = importlib.util.spec_from_file_location("h", ${JSON.stringify(HARNESS)})`,
        'h = importlib.util.module_from_spec(spec); spec.loader.exec_module(h)',
        `pid = ${t.pid}`,
        'data, heap, anon = h.where(pid)',
        'fd = os.open("/proc/%d/mem" % pid, os.O_RDONLY)',
        'out = h.check_all(lambda a, n: os.pread(fd, n, a), data, heap, anon, budget=h.hc.Budget(3))',
        'print(json.dumps(out["arenas"][0]["problems"]))',
      ].join('\n');
      const r = await execa('python3', ['-c', py], { reject: false });
      expect(r.exitCode, r.stderr).toBe(0);
      const problems = JSON.parse(r.stdout) as { list: string; corrupt: boolean }[];
      expect(problems).toEqual([expect.objectContaining({ list: 'budget', corrupt: false })]);
    } finally {
      await t.stop();
    }
  });
});

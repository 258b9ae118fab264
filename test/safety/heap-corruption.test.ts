// Targets whose free lists a memory bug broke (fixtures/targets/corrupt-heap.c): heapgap must finish
// within its timeout, name the corruption, make no call into the broken heap, and leave the process
// alive, untraced, not stopped, not spinning, with every arena lock free (the next malloc that needs
// it returns). Then the failure path on its own (the check turned off): a call that aborts, faults
// or never returns inside the allocator, and what heapgap says and does about the lock it left.
// Needs gdb, gcc, python3.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../helpers/cli.js';
import { KINDS, startCorrupt } from '../helpers/corrupt-target.js';
import type { CorruptTarget, Mode } from '../helpers/corrupt-target.js';
import { procState } from '../helpers/targets.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const progress = /^heapgap: (glibc \S+ at .*; attaching to \d+|attached; calling .*|detached; measuring|SIG[A-Z]+ received; finishing safely.*|.*; trying again in \d+ ms)$/;
const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('heapgap: ') && !progress.test(l));

interface Finding {
  kind: string;
  severity: string;
  message: string;
  data?: { problems: { list: string; bin: number | null; chunk: string | null; arenaAddress: string | null }[] };
}

/** Alive, untraced, not stopped, not spinning, the arena's lock free, and its next locked malloc returns. */
async function expectHealthy(t: CorruptTarget, what: string): Promise<void> {
  const st = procState(t.pid);
  expect(st.alive, `${what}: alive (${t.stderr()})`).toBe(true);
  expect(st.tracerPid, `${what}: not traced`).toBe(0);
  expect(st.state, `${what}: not stopped`).not.toMatch(/^[Tt]$/);
  // An idle target uses no CPU; one spinning in malloc_info uses a core (a share of one under load).
  const c0 = t.cpuTicks();
  await sleep(1000);
  expect(t.cpuTicks() - c0, `${what}: CPU ticks in 1 s (spinning?)`).toBeLessThanOrEqual(3);
  expect(t.mutex(), `${what}: the arena's mutex word`).toBe(0);
  expect(await t.probe(), `${what}: the next malloc needing the arena lock returned`).toBe(true);
}

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'heapgap-corrupt-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('inspect on a corrupted heap', () => {
  for (const mode of ['single', 'thread', 'main'] as Mode[]) {
    it(`names each corruption, makes no call, and leaves the process healthy (${mode})`, { timeout: 300_000 }, async () => {
      for (const kind of KINDS) {
        const t = await startCorrupt(kind, mode);
        try {
          const r = await runCli(['inspect', String(t.pid), '--json', '--timeout', '30s'], { timeout: 60_000 });
          const what = `${kind}/${mode}`;
          expect(r.timedOut, `${what}: finished`).toBe(false);
          expect(r.exitCode, `${what}: ${r.stderr}`).toBe(0);
          const doc = JSON.parse(r.stdout) as { findings: Finding[]; notes: string[]; arenas: { address: string | null; systemBytes: number }[] };
          const f = doc.findings.find((x) => x.kind === 'heap-corrupt');
          expect(f, `${what}: a heap-corrupt finding (${JSON.stringify(doc.findings)})`).toBeDefined();
          expect(f!.severity).toBe('critical');
          expect(f!.message, what).toContain(t.truth.chunk);
          expect(f!.message, what).toContain(t.truth.arena);
          expect(f!.data!.problems[0], what).toMatchObject({ list: t.truth.list, chunk: t.truth.chunk, arenaAddress: t.truth.arena, ...(t.truth.list === 'top' ? {} : { bin: t.truth.bin }) });
          expect(doc.notes.join(' '), what).toMatch(/malloc_info was not called/);
          // the ring and each arena's system_mem, from outside
          expect(doc.arenas.map((a) => a.address), what).toContain(t.truth.arena);
          expect(doc.arenas.every((a) => a.systemBytes > 0), what).toBe(true);
          // no call reached glibc: it never printed an abort message
          expect(t.stderr(), what).not.toMatch(/malloc|corrupt|unaligned/);
          await expectHealthy(t, what);
        } finally {
          await t.stop();
        }
      }
    });
  }

  it('trim refuses a corrupted heap (exit 3) naming the chunk; nothing is trimmed', { timeout: 120_000 }, async () => {
    for (const mode of ['single', 'thread'] as Mode[]) {
      const t = await startCorrupt('bad-size', mode);
      try {
        const r = await runCli(['trim', String(t.pid), '--json'], { timeout: 60_000 });
        expect(r.exitCode, r.stderr).toBe(3);
        expect(errorLines(r.stderr)).toHaveLength(1);
        expect(errorLines(r.stderr)[0]).toMatch(new RegExp(`the heap is corrupt: .*${t.truth.chunk}.*impossible chunk size.*no call was made`));
        expect(r.stdout).toBe('');
        await expectHealthy(t, `trim bad-size/${mode}`);
      } finally {
        await t.stop();
      }
    }
  });

  it('a healthy heap is called as usual, and the check counts exactly what the program freed', { timeout: 120_000 }, async () => {
    for (const mode of ['single', 'thread'] as Mode[]) {
      const t = await startCorrupt('none', mode);
      try {
        const file = join(dir, `none-${mode}.json`);
        const r = await runCli(['capture', String(t.pid), '-o', file], { timeout: 60_000 });
        expect(r.exitCode, r.stderr).toBe(0);
        const cap = JSON.parse(await readFile(file, 'utf8')) as { sections: { glibc: { mallocInfo: string | null; heapCheck: { complete: boolean; corrupt: unknown[]; arenas: { address: string; fastChunks: number; fastBytes: number; binChunks: number; binBytes: number }[] } } } };
        const g = cap.sections.glibc;
        expect(typeof g.mallocInfo, mode).toBe('string');
        expect(g.heapCheck.complete).toBe(true);
        expect(g.heapCheck.corrupt).toEqual([]);
        const mine = g.heapCheck.arenas.find((a) => a.address === t.truth.arena);
        // The check walks before any call: its figures are the program's own, to the byte.
        expect({ fastChunks: mine?.fastChunks, fastBytes: mine?.fastBytes, binChunks: mine?.binChunks, binBytes: mine?.binBytes }, mode).toEqual(t.truth.free);
        await expectHealthy(t, `none/${mode}`);
      } finally {
        await t.stop();
      }
    }
  });
});

describe('a call that fails inside the allocator anyway (the check turned off)', () => {
  const unchecked = { HEAPGAP_SKIP_HEAP_CHECK: '1' };

  it('abort (SIGABRT) and fault (SIGSEGV) in malloc_info: the lock it left is named, released, and the next malloc returns', { timeout: 120_000 }, async () => {
    for (const [kind, mode, signal] of [['fastbin-misaligned', 'main', 'SIGABRT'], ['broken-links', 'thread', 'SIGSEGV']] as const) {
      const t = await startCorrupt(kind, mode);
      try {
        const r = await runCli(['inspect', String(t.pid), '--json'], { env: unchecked, timeout: 60_000 });
        const what = `${kind}/${mode}`;
        expect(r.exitCode, `${what}: ${r.stderr}`).toBe(3);
        const line = errorLines(r.stderr)[0] ?? '';
        expect(line, what).toMatch(new RegExp(`malloc_info was stopped by ${signal} inside the allocator`));
        expect(line, what).toMatch(new RegExp(`left arena \\d+'s lock \\(${t.truth.arena}\\) held; heapgap released it`));
        expect(line, what).not.toMatch(/nothing was changed/);
        await expectHealthy(t, what);
      } finally {
        await t.stop();
      }
    }
  });

  it('a malloc_info that never returns (cyclic bin) ends at --timeout; the loop is stopped and its lock released', { timeout: 120_000 }, async () => {
    const t = await startCorrupt('smallbin-cyclic', 'thread');
    try {
      const r = await runCli(['inspect', String(t.pid), '--timeout', '4s'], { env: unchecked, timeout: 60_000 });
      expect(r.timedOut).toBe(false);
      expect(r.exitCode, r.stderr).toBe(3);
      expect(errorLines(r.stderr)[0]).toMatch(new RegExp(`malloc_info did not return after heapgap was asked to stop .*interrupted it.*left arena \\d+'s lock \\(${t.truth.arena}\\) held; heapgap released it`));
      // --timeout 4 s, one second for the call to finish on its own, then the unwind: bounded
      expect(r.durationMs).toBeLessThan(30_000);
      await expectHealthy(t, 'cyclic, --timeout');
      // Without a stop request, malloc_info's own limit (10 s, ~100x a million free chunks) ends it.
      const again = await runCli(['inspect', String(t.pid), '--timeout', '60s'], { env: unchecked, timeout: 60_000 });
      expect(again.exitCode, again.stderr).toBe(3);
      expect(errorLines(again.stderr)[0]).toMatch(new RegExp(`malloc_info ran past its time limit without returning .*heapgap released it`));
      await expectHealthy(t, 'cyclic, time limit');
    } finally {
      await t.stop();
    }
  });

  it('SIGTERM while malloc_info spins: heapgap ends (exit 130) with the truth, the process is not left spinning', { timeout: 120_000 }, async () => {
    const t = await startCorrupt('smallbin-cyclic', 'single');
    try {
      let scheduled = false;
      const r = await spawnCli(['inspect', String(t.pid)], (err, child) => {
        if (scheduled || !/attached; calling/.test(err)) return;
        scheduled = true;
        setTimeout(() => child.kill('SIGTERM'), 1500);
      }, { env: unchecked });
      expect(r.timedOut, r.stderr).toBe(false);
      expect(r.exitCode, r.stderr).toBe(130);
      expect(errorLines(r.stderr)[0]).toMatch(/malloc_info did not return after heapgap was asked to stop .*heapgap released it/);
      await expectHealthy(t, 'cyclic, SIGTERM');
    } finally {
      await t.stop();
    }
  });
});

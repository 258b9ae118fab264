// The fault suite's core cases for jemalloc and tcmalloc targets under churn (alloc-stats.c in churn
// mode, LD_PRELOAD): threads malloc/free without pause, so some thread is always inside the
// allocator, holding its locks. Every run ends with the target alive, untraced, not stopped, no
// memfd left, and still making progress; interruptions end cleanly; a trim is never a dry run.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missing, startAllocTarget } from '../helpers/alloc-targets.js';
import type { AllocTarget, OtherAllocator } from '../helpers/alloc-targets.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import type { CliResult } from '../helpers/cli.js';
import { procFds, procState } from '../helpers/proc.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PROGRESS = /^heapgap: (glibc \S+ at .*; attaching to \d+|attached; calling .*|detached; measuring|SIG[A-Z]+ received; finishing safely.*|still waiting for the target to be released.*|(a thread is in uninterruptible sleep|no thread was at a safe point); trying again in \d+ ms)$/;
const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('heapgap: ') && !PROGRESS.test(l));

function progress(file: string): number | null {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

async function expectHealthy(t: AllocTarget, file: string, what: string): Promise<void> {
  const st = procState(t.pid);
  expect(st.alive, `${what}: alive`).toBe(true);
  expect(st.tracerPid, `${what}: TracerPid`).toBe(0);
  expect(st.state, `${what}: not stopped`).not.toMatch(/^[Tt]$/);
  expect(procFds(t.pid).filter((f) => f.startsWith('/memfd:')), `${what}: no memfd left`).toEqual([]);
  const p0 = progress(file);
  for (const t0 = Date.now(); Date.now() - t0 < 2000; await sleep(20)) {
    const p = progress(file);
    if (p0 !== null && p !== null && p > p0) return;
  }
  throw new Error(`${what}: progress stuck at ${p0} for 2 s`);
}

function expectCleanFailure(r: CliResult, what: string): void {
  expect(errorLines(r.stderr), `${what}: one heapgap: error line\n${r.stderr}`).toHaveLength(1);
  expect(r.stderr, `${what}: no stack trace`).not.toMatch(/^\s+at .+/m);
}


let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'heapgap-allocators-safety-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.each(['jemalloc', 'tcmalloc'] as OtherAllocator[])('%s under churn', (allocator) => {
  it.skipIf(missing(allocator))('6 inspect/trim calls, SIGINT during a call and during a trim: the target stays healthy', { timeout: 300_000 }, async () => {
    const file = join(dir, `${allocator}.progress`);
    const t = await startAllocTarget({ c: ['4', '2000', '200', '65536', '1', file] }, allocator);
    try {
      for (let i = 0; i < 200 && progress(file) === null; i++) await sleep(10);
      let refused = 0;
      for (let i = 1; i <= 6; i++) {
        const mode = i % 3 === 0 ? 'trim' : 'inspect';
        const r = await runCli([mode, String(t.pid), '--json']);
        const what = `call ${i} (${mode})`;
        expect(r.timedOut, what).toBe(false);
        if (r.exitCode === 3) {
          expectCleanFailure(r, what);
          expect(errorLines(r.stderr)[0], what).toMatch(/no thread is parked|waited on an allocator lock/);
          refused++;
        } else {
          expect(r.exitCode, `${what}: ${r.stderr}`).toBe(0);
          const doc = JSON.parse(r.stdout) as { target: { allocator: string } };
          expect(doc.target.allocator).toBe(allocator);
        }
        await expectHealthy(t, file, what);
      }
      expect(refused).toBeLessThanOrEqual(2);
      for (const sig of ['SIGINT', 'SIGTERM'] as const) {
        const r = await spawnCli(['inspect', String(t.pid), '--json'], (err, child) => {
          if (/attached; calling/.test(err) && !child.killed) child.kill(sig);
        });
        expect([0, 130], `${sig}: exit ${r.exitCode} (${r.stderr})`).toContain(r.exitCode);
        if (r.exitCode !== 0) expectCleanFailure(r, sig);
        await expectHealthy(t, file, `${sig} during the call`);
      }
      let sent = false;
      const r = await spawnCli(['trim', String(t.pid), '--json'], (err, child) => {
        if (!sent && /attached; calling/.test(err)) {
          sent = true;
          setTimeout(() => child.kill('SIGINT'), 10);
        }
      });
      expect([0, 130], `trim interrupted: exit ${r.exitCode} (${r.stderr})`).toContain(r.exitCode);
      if (r.exitCode === 0) expect((JSON.parse(r.stdout) as { dryRun: boolean }).dryRun).toBe(false);
      else expectCleanFailure(r, 'trim interrupted');
      await expectHealthy(t, file, 'trim interrupted');
    } finally {
      await t.stop();
    }
  });
});

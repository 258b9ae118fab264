// experiment: what a cap costs. CPU time of the whole process tree (a reaped child included),
// checked against what the processes measured of themselves, and the load's own time and exit.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { testDir } from '../helpers/scratch.js';
import { buildTarget, REPO_ROOT } from '../helpers/targets.js';
import type { ExperimentReport } from '../../src/types.js';

describe('experiment cost', () => {
  it('cpuMs covers the tree, reaped children included, as the processes measured themselves', async () => {
    const out = join(testDir('heapgap-cpu-'), 'truth.json');
    const r = await runCli(['experiment', '--arena-max', 'default', '--sample-interval', '20ms', '--json', '--',
      process.execPath, join(REPO_ROOT, 'fixtures', 'targets', 'cpu-tree.mjs'), out, '400', '300'], { timeout: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const run = (JSON.parse(r.stdout) as ExperimentReport).runs[0]!;
    const truth = JSON.parse(readFileSync(out, 'utf8')) as { childCpuMs: number; selfCpuMs: number };
    const total = truth.childCpuMs + truth.selfCpuMs;
    expect(truth.childCpuMs).toBeGreaterThanOrEqual(400);
    // Ticks are 10 ms; the last sample can miss the root's final moments (one interval) and what
    // ran after its own reading.
    expect(run.cpuMs!).toBeGreaterThanOrEqual(total - 120);
    expect(run.cpuMs!).toBeLessThanOrEqual(total + 200);
  });

  it('on a threaded server, --load reports its own wall time and exit code and ends the run', async () => {
    const bin = await buildTarget('pinned-threads');
    // 4 x 2,000 blocks of 32 KiB: 130-260 ms of CPU per run here, so that cpuMs > 0 says it was
    // sampled (with 200 blocks a run took under one 10 ms tick on a fast machine, and read 0)
    const r = await runCli(['experiment', '--arena-max', '1,default', '--load', 'sleep 0.4; exit 3', '--warmup', '200ms', '--json', '--', bin, '4', '2000', '32768'], { timeout: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as ExperimentReport;
    for (const run of doc.runs) {
      expect(run.load?.exitCode).toBe(3);
      expect(run.load!.wallMs).toBeGreaterThanOrEqual(400);
      // No --duration: the finished load ended the run (SIGTERM -> the server exits 0).
      expect(run.exitCode).toBe(0);
      expect(run.wallMs).toBeLessThan(20_000);
      expect(run.cpuMs).toBeGreaterThan(0);
    }
    expect(r.stderr).toMatch(/cpu \d+\.\d\d s, load \d+\.\d\d s exit 3/);
  });
});

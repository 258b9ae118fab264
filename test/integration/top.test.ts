// heapgap top against real targets on this host: a fragmented and a clean one (checked against
// inspect on the same process and against the targets' own truth), a stall meter that must see no
// stop, and the OpenMetrics exposition through promtool.
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { procState, startTarget, stopAllTargets } from '../helpers/targets.js';
import { startStallMeter } from '../helpers/stall-meter.js';
import type { InspectReport, TopProcess, TopReport } from '../../src/types.js';

afterAll(stopAllTargets);

const MIB = 1024 * 1024;
const PROMTOOL = spawnSync('promtool', ['--version']).error === undefined;

async function top(args: string[] = []): Promise<TopReport> {
  const r = await runCli(['top', '--json', ...args], { timeout: 120_000 });
  expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as TopReport;
}

async function inspect(pid: number): Promise<InspectReport> {
  const r = await runCli(['inspect', String(pid), '--json']);
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as InspectReport;
}

const find = (report: TopReport, pid: number): TopProcess => {
  const p = report.processes.find((x) => x.pid === pid);
  expect(p, `pid ${pid} not in top`).toBeDefined();
  return p!;
};

describe('heapgap top on one host', () => {
  it('ranks the fragmented process above the clean one, with held free close to inspect and to the truth', async () => {
    const frag = await startTarget('fragmenter', ['4', '16']);
    const clean = await startTarget('multi-heap', ['40']);
    const report = await top();
    expect(report.schema).toBe('heapgap.top/1');
    const f = find(report, frag.pid);
    const c = find(report, clean.pid);
    expect(report.processes.indexOf(f)).toBeLessThan(report.processes.indexOf(c));
    expect(f.estimate).toBe(true);
    expect(f.allocator).toBe('glibc');
    expect(f.arenas).toBe(frag.truth.threads.length + 1);
    expect(c.arenas).toBe(2);
    // truth: what the target freed (tcache'd chunks count as in use, so held free is below it)
    const freed = frag.truth.main.freedBytes + frag.truth.threads.reduce((s, t) => s + t.freedBytes, 0);
    expect(f.heldFreeEstimateBytes!).toBeGreaterThan(0.5 * freed);
    expect(f.heldFreeEstimateBytes!).toBeLessThan(freed + 4 * MIB);
    expect(c.heldFreeEstimateBytes!).toBeLessThan(2 * MIB);
    // the same process through the safe call: figures within 2% (or 512 KiB)
    for (const [p, pid] of [[f, frag.pid], [c, clean.pid]] as const) {
      const exact = await inspect(pid);
      const tolerance = Math.max(512 * 1024, 0.02 * exact.totals.heldFreeRssBytes);
      expect(Math.abs(p.heldFreeEstimateBytes! - exact.totals.heldFreeRssBytes)).toBeLessThanOrEqual(tolerance);
      expect(Math.abs(p.arenaRssBytes! - exact.totals.rssBytes)).toBeLessThanOrEqual(Math.max(512 * 1024, 0.02 * exact.totals.rssBytes));
      expect(p.arenas).toBe(exact.arenas.length);
      for (const a of exact.arenas) {
        const mine = p.arenaDetail.find((x) => x.index === a.index)!;
        expect(mine.address).toBe(a.address ?? mine.address);
        expect(Math.abs(mine.systemBytes - a.systemBytes)).toBeLessThanOrEqual(64 * 1024);
      }
    }
    expect(procState(frag.pid).tracerPid).toBe(0);
  }, 300_000);

  it('a heap changing under the read: lists cut short give up cleanly, figures stay within the arena', async () => {
    const churn = await startTarget('churn', ['4']);
    for (let i = 0; i < 4; i++) {
      const p = find(await top(['--pid', String(churn.pid)]), churn.pid);
      expect(p.arenas).toBe(5);
      expect(p.heldFreeEstimateBytes!).toBeLessThanOrEqual(p.arenaRssBytes!);
      for (const a of p.arenaDetail) expect(a.inUseEstimateBytes).toBeLessThanOrEqual(a.systemBytes);
      expect(procState(churn.pid)).toMatchObject({ alive: true, tracerPid: 0 });
    }
  }, 300_000);

  it('--inspect 1 runs the full inspect on the first process, after the stop-free pass', async () => {
    const frag = await startTarget('fragmenter', ['2', '8']);
    const report = await top(['--pid', String(frag.pid), '--inspect', '1']);
    expect(report.inspected).toHaveLength(1);
    const exact = report.inspected[0]!;
    expect(exact.schema).toMatch(/^heapgap\.inspect\//);
    expect(exact.target.pid).toBe(frag.pid);
    expect(exact.pause.stoppedMs).toBeGreaterThan(0);
    const p = find(report, frag.pid);
    expect(Math.abs(p.heldFreeEstimateBytes! - exact.totals.heldFreeRssBytes)).toBeLessThanOrEqual(Math.max(512 * 1024, 0.02 * exact.totals.heldFreeRssBytes));
    expect(procState(frag.pid)).toMatchObject({ alive: true, tracerPid: 0 });
  }, 300_000);

  it.skipIf(spawnSync('script', ['--version']).error !== undefined)('on a terminal: a live table redrawn every --interval (needs Debian package bsdutils for script)', async () => {
    const r = spawnSync('script', ['-qc', `"${process.execPath}" dist/cli/main.js top --count 2 --interval 200ms --pid ${process.pid}`, '/dev/null'],
      { encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } });
    expect(r.status, r.stderr).toBe(0);
    const screens = r.stdout.split('\u001b[H\u001b[2J').filter((s) => s !== '');
    expect(screens).toHaveLength(2);
    for (const s of screens) expect(s).toMatch(new RegExp(`^\\s*${process.pid}\\s+\\S+\\s+glibc\\s`, 'm'));
  }, 300_000);

  it('--limit, --cgroup errors and exit codes', async () => {
    const limited = await top(['--limit', '1', '--pid', `${process.pid},${process.ppid}`]);
    expect(limited.processes).toHaveLength(1);
    const bad = await runCli(['top', '--cgroup', '/no/such/heapgap-cgroup']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/^heapgap: no cgroup at /m);
    expect((await runCli(['top', '--limit', '0'])).exitCode).toBe(2);
    expect((await runCli(['top', '--pid', '4194303'])).exitCode).toBe(3);
  }, 300_000);

  it('a process with its own stall meter sees no stop while top runs', async () => {
    const meter = await startStallMeter();
    try {
      // poll the meter's tracer and state while `run` runs; a stop (t/T) or a tracer fails the test
      const watched = async (run: () => Promise<unknown>) => {
        const seen = { tracers: new Set<number>(), states: new Set<string>() };
        const timer = setInterval(() => {
          const s = procState(meter.pid);
          seen.tracers.add(s.tracerPid ?? -1);
          seen.states.add(s.state ?? '?');
        }, 2);
        try {
          await run();
        } finally {
          clearInterval(timer);
        }
        return seen;
      };
      await meter.maxGapMs();
      const started = Date.now();
      let report: TopReport | null = null;
      const during = await watched(async () => {
        // the whole host once, then the meter alone (every read aimed at it)
        report = await top();
        for (let i = 0; i < 3; i++) await top(['--pid', String(meter.pid)]);
      });
      const topGap = await meter.maxGapMs();
      const baseline = await watched(() => new Promise((r) => setTimeout(r, Date.now() - started)));
      const baseGap = await meter.maxGapMs();
      expect(find(report!, meter.pid).arenas).toBeGreaterThanOrEqual(1);
      expect([...during.tracers]).toEqual([0]);
      expect([...during.states].filter((s) => /[tT]/.test(s))).toEqual([]);
      expect([...baseline.tracers]).toEqual([0]);
      // no tight timing: relative to an idle period of the same length on the same machine
      expect(topGap).toBeLessThan(Math.max(4 * baseGap, baseGap + 250));
      // positive control: the same poller does see inspect's short ptrace stop
      const control = await watched(() => inspect(meter.pid));
      expect([...control.tracers].some((t) => t > 0)).toBe(true);
    } finally {
      await meter.stop();
    }
  }, 300_000);

  it.skipIf(!PROMTOOL)('--format openmetrics is one exposition promtool accepts (needs Debian package prometheus)', async () => {
    const frag = await startTarget('fragmenter', ['2', '8']);
    const r = await runCli(['top', '--format', 'openmetrics'], { timeout: 120_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: r.stdout, encoding: 'utf8' });
    expect(check.stdout + check.stderr).toBe('');
    expect(check.status).toBe(0);
    const held = new RegExp(`^heapgap_process_held_free_rss_bytes\\{pid="${frag.pid}",comm="[^"]*",allocator="glibc"\\} (\\d+)$`, 'm').exec(r.stdout);
    expect(held).not.toBeNull();
    const json = find(await top(['--pid', String(frag.pid)]), frag.pid);
    expect(Math.abs(Number(held![1]) - json.heldFreeEstimateBytes!)).toBeLessThanOrEqual(512 * 1024);
    expect(r.stdout).toMatch(new RegExp(`^heapgap_arena_held_free_rss_bytes\\{pid="${frag.pid}",comm="[^"]*",allocator="glibc",arena="2",kind="thread"\\} \\d+$`, 'm'));
    expect(r.stdout.endsWith('# EOF\n')).toBe(true);
  }, 300_000);
});

// top's reporters on a document built here (the figures' truth is checked in
// test/integration/top.test.ts): one exposition with --inspect merged, hostile comms, every format.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadReporter } from '../../src/report/index.js';
import { renderTopOpenMetrics } from '../../src/report/top/openmetrics.js';
import type { InspectReport, TopProcess, TopReport } from '../../src/types.js';

const PROMTOOL = spawnSync('promtool', ['--version']).error === undefined;
const promtool = (text: string) => spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
const inspect = JSON.parse(readFileSync(new URL('../../fixtures/reports/inspect-api-server-four-arenas.json', import.meta.url), 'utf8')) as InspectReport;

function proc(pid: number, comm: string, held: number | null): TopProcess {
  const arenaDetail = held === null ? [] : [{ index: 0, kind: 'main' as const, address: '0x7f0000000000', heaps: 1, systemBytes: 4096 * 100, topBytes: 4096, freeEstimateBytes: held, inUseEstimateBytes: 4096 * 100 - held, rssBytes: 4096 * 100, heldFreeEstimateBytes: held, complete: true }];
  return {
    pid, comm, allocator: held === null ? 'jemalloc' : 'glibc', glibcVersion: held === null ? null : '2.36', threads: 1, rssBytes: 4096 * 200,
    arenas: held === null ? null : 1, arenaLimit: held === null ? null : 16, arenaRssBytes: held === null ? null : 4096 * 100,
    heldFreeEstimateBytes: held, estimate: true, arenaDetail, note: null,
  };
}

const doc = (processes: TopProcess[], inspected: InspectReport[] = []): TopReport => ({
  schema: 'heapgap.top/1', takenAt: '2025-01-01T00:00:00.000Z', durationMs: 1234, cpus: 2, cgroup: null, processCount: processes.length, processes,
  skipped: { unreadable: 1, exited: 0, kernel: 3 }, inspected, inspectErrors: [],
});

describe('top --format openmetrics', () => {
  it.skipIf(!PROMTOOL)('one exposition promtool accepts, also with hostile comms (needs Debian package prometheus)', () => {
    const text = renderTopOpenMetrics(doc([proc(1, 'a"b\\c\nd', 4096), proc(2, 'plain', null)]));
    const r = promtool(text);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(text).toContain('heapgap_process_held_free_rss_bytes{pid="1",comm="a\\"b\\\\c\\nd",allocator="glibc"} 4096\n');
    expect(text).not.toMatch(/held_free_rss_bytes\{pid="2"/); // unknown is left out, not 0
  });

  it.skipIf(!PROMTOOL)('--inspect: inspect\'s exact samples replace top\'s for that pid, no family twice', () => {
    const text = renderTopOpenMetrics(doc([proc(inspect.target.pid, 'api-server', 8192), proc(7, 'other', 4096)], [inspect]));
    const r = promtool(text);
    expect(r.stdout + r.stderr).toBe('');
    const types = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]);
    expect(new Set(types).size).toBe(types.length);
    const arena0 = [...text.matchAll(new RegExp(`^heapgap_arena_held_free_rss_bytes\\{pid="${inspect.target.pid}",[^}]*arena="0"[^}]*\\} (\\d+)$`, 'gm'))];
    expect(arena0.map((m) => Number(m[1]))).toEqual([inspect.arenas.find((a) => a.index === 0)!.heldFreeRssBytes]);
    expect(text).toMatch(/^heapgap_arena_held_free_rss_bytes\{pid="7",comm="other",allocator="glibc",arena="0",kind="main"\} 4096$/m);
    expect(text).toMatch(new RegExp(`^heapgap_findings\\{pid="${inspect.target.pid}",[^}]*severity="warn"`, 'm'));
  });
});

describe('top in the other formats', () => {
  it.for(['text', 'markdown', 'html', 'json'] as const)('%s renders every process and the inspected report', async (format) => {
    const out = (await loadReporter(format))(doc([proc(inspect.target.pid, 'api-server', 8192), proc(2, '<b>x|y</b>\u001b[2J', null)], [inspect]), { color: false });
    expect(out).toContain(String(inspect.target.pid));
    expect(out).not.toContain('\u001b[2J'); // a comm cannot drive the terminal
    if (format === 'markdown' || format === 'html') expect(out).not.toContain('<b>x');
    if (format === 'json') expect(JSON.parse(out).inspected[0].schema).toBe('heapgap.inspect/1');
    if (format === 'text') expect(out).toContain(`heapgap: pid ${inspect.target.pid} (api-server)`); // the inspected report follows
  });
});

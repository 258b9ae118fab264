import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderOpenMetrics } from '../../src/report/openmetrics.js';
import type { AnyReport, ExperimentReport, InspectReport } from '../../src/types.js';

const load = <T extends AnyReport>(name: string): T =>
  JSON.parse(readFileSync(new URL(`../../fixtures/reports/${name}.json`, import.meta.url), 'utf8')) as T;
const FIXTURES = ['inspect-api-server-four-arenas', 'trim-api-server-four-arenas', 'experiment-api-server-arena-max', 'diff-api-server-one-hour'];
const inspect = load<InspectReport>('inspect-api-server-four-arenas');
const withComm = (comm: string): InspectReport => ({ ...inspect, target: { ...inspect.target, comm } });
const HOSTILE = ['<script>alert(1)</script>', '"a\nb"', 'back\\slash', 'x} 1\ny{'];

const PROMTOOL = spawnSync('promtool', ['--version']).error === undefined;
const MISSING = 'promtool not found on PATH (apt-get install -y prometheus); OpenMetrics validity not checked';
const promtool = (text: string) => spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });

/** Families in order: name, metadata lines and sample names, as a parser would see them. */
function families(text: string) {
  const out: Array<{ name: string; type?: string; unit?: string; help?: string; samples: string[] }> = [];
  for (const line of text.trimEnd().split('\n')) {
    const meta = /^# (TYPE|UNIT|HELP) (\S+) (.*)$/.exec(line);
    const name = meta ? meta[2]! : /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    if (line === '# EOF' || name === undefined) continue;
    if (out.at(-1)?.name !== name) out.push({ name, samples: [] });
    const f = out.at(-1)!;
    if (meta) f[meta[1]!.toLowerCase() as 'type' | 'unit' | 'help'] = meta[3];
    else f.samples.push(line);
  }
  return out;
}

describe('renderOpenMetrics: structure', () => {
  it.each(FIXTURES)('%s is well-formed OpenMetrics', (name) => {
    const text = renderOpenMetrics(load(name));
    expect(text.endsWith('\n# EOF\n')).toBe(true);
    expect(text.indexOf('# EOF')).toBe(text.length - 6);
    const fams = families(text);
    expect(new Set(fams.map((f) => f.name)).size).toBe(fams.length); // each family in one block
    for (const f of fams) {
      expect(f.name).toMatch(/^heapgap_[a-z_]+$/);
      expect(f.type).toBe('gauge');
      expect(f.help).toBeTruthy();
      expect(f.samples.length).toBeGreaterThan(0);
      if (f.name.endsWith('_bytes')) expect(f.unit).toBe('bytes');
      if (f.unit !== undefined) expect(f.name.endsWith(`_${f.unit}`)).toBe(true);
    }
  });
});

describe('renderOpenMetrics: inspect figures', () => {
  const text = renderOpenMetrics(inspect);
  const base = 'pid="48213",comm="api-server"';

  it('exports Rss by category', () => {
    expect(text).toContain(`heapgap_rss_bytes{${base},category="arena"} 332414976\n`);
    expect(text).toContain(`heapgap_rss_bytes{${base},category="file"} 42848256\n`);
    expect(text).toContain(`heapgap_process_rss_bytes{${base}} 426938368\n`);
  });

  it('exports every arena figure with an arena label', () => {
    const a2 = `{${base},arena="2",kind="thread"}`;
    expect(text).toContain(`heapgap_arena_system_bytes${a2} 58720256\n`);
    expect(text).toContain(`heapgap_arena_in_use_bytes${a2} 9654272\n`);
    expect(text).toContain(`heapgap_arena_free_bytes${a2} 49065984\n`);
    expect(text).toContain(`heapgap_arena_rss_bytes${a2} 51388416\n`);
    expect(text).toContain(`heapgap_arena_held_free_rss_bytes${a2} 41734144\n`);
    expect(text).toContain(`heapgap_arena_pinned_top${a2} 1\n`);
    expect(text).toContain(`heapgap_arena_pinned_top{${base},arena="1",kind="thread"} 0\n`);
    expect(text.match(/^heapgap_arena_rss_bytes\{/gm)).toHaveLength(4);
  });

  it('exports mmap chunks, findings by severity and the pause in seconds', () => {
    expect(text).toContain(`heapgap_mmap_chunks{${base}} 14\n`);
    expect(text).toContain(`heapgap_mmap_chunk_bytes{${base}} 39903232\n`);
    expect(text).toContain(`heapgap_findings{${base},severity="critical"} 1\n`);
    expect(text).toContain(`heapgap_findings{${base},severity="warn"} 2\n`);
    expect(text).toContain(`heapgap_findings{${base},severity="info"} 2\n`);
    expect(text).toContain(`heapgap_pause_stopped_seconds{${base}} 0.184\n`);
  });

  it('leaves out an unknown figure instead of exporting 0', () => {
    const doc = { ...inspect, pause: { stoppedMs: null, callMs: 121, attachMs: null } };
    const out = renderOpenMetrics(doc);
    expect(out).not.toContain('heapgap_pause_stopped_seconds');
    expect(out).toContain('heapgap_pause_call_seconds{');
  });

  it('escapes label values', () => {
    expect(renderOpenMetrics(withComm('"a\nb"'))).toContain('comm="\\"a\\nb\\""');
    expect(renderOpenMetrics(withComm('back\\slash'))).toContain('comm="back\\\\slash"');
    expect(renderOpenMetrics(withComm('<script>alert(1)</script>'))).toContain('comm="<script>alert(1)</script>"');
  });
});

describe('renderOpenMetrics: experiment', () => {
  it('exports per-run gauges labelled by MALLOC_ARENA_MAX', () => {
    const text = renderOpenMetrics(load<ExperimentReport>('experiment-api-server-arena-max'));
    const cmd = 'command="./build/api-server --port 0 --replay traffic-2025-03-13.log"';
    expect(text).toContain(`heapgap_experiment_final_rss_bytes{${cmd},arena_max="1"} 255864832\n`);
    expect(text).toContain(`heapgap_experiment_peak_rss_bytes{${cmd},arena_max="default"} 452464640\n`);
    expect(text).toContain(`heapgap_experiment_wall_seconds{${cmd},arena_max="4"} 40.112\n`);
    expect(text).not.toMatch(/saving_vs_default_bytes\{[^}]*arena_max="default"/);
  });
});

describe('renderOpenMetrics: promtool check metrics', () => {
  it.for(FIXTURES)('promtool accepts %s', (name, ctx) => {
    if (!PROMTOOL) ctx.skip(MISSING);
    const r = promtool(renderOpenMetrics(load(name)));
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.for(HOSTILE)('promtool accepts comm %j', (comm, ctx) => {
    if (!PROMTOOL) ctx.skip(MISSING);
    const r = promtool(renderOpenMetrics(withComm(comm)));
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  // Guards the two tests above against a promtool that accepts anything.
  it('promtool rejects an unescaped label value', (ctx) => {
    if (!PROMTOOL) ctx.skip(MISSING);
    const text = renderOpenMetrics(inspect).replace('comm="api-server"', 'comm="api\nserver"');
    expect(promtool(text).status).not.toBe(0);
  });
});

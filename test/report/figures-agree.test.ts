// What the human formats print agrees with the JSON: heap and arena counts of inspect/2 documents
// built from the real captures, and experiment savings printed as bytes.
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { analyse } from '../../src/analyse/inspect.js';
import { formatBytes, formatSignedBytes } from '../../src/report/format-bytes.js';
import { renderHtml } from '../../src/report/html.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderOpenMetrics } from '../../src/report/openmetrics.js';
import { renderText } from '../../src/report/text.js';
import type { ExperimentReport, InspectReport } from '../../src/types.js';
import { MIB } from '../../src/units.js';
import { fixtureSnapshot, layoutFromTruth } from '../fixture-snapshot.js';

const docs = new Map<string, InspectReport>();
beforeAll(async () => {
  docs.set('pinned-threads', analyse(await fixtureSnapshot('pinned-threads')));
  docs.set('multi-heap', analyse(await fixtureSnapshot('multi-heap', { layout: layoutFromTruth('multi-heap') })));
  docs.set('multi-heap unjoined', analyse(await fixtureSnapshot('multi-heap')));
  docs.set('jvm-many-threads', analyse(await fixtureSnapshot('jvm-many-threads')));
});

/** Rows of the text report's Arenas table (cells split on the two-space column gap). */
function textArenaRows(text: string): string[][] {
  const lines = text.split('\n');
  const head = lines.findIndex((l) => /^\s*arena\s+kind\s+heaps\s/.test(l));
  const rows: string[][] = [];
  for (const l of lines.slice(head + 1)) if (/^\s*\d+\s/.test(l)) rows.push(l.trim().split(/\s{2,}/)); else break;
  return rows;
}
const mdArenaRows = (md: string) => md.split('\n').filter((l) => /^\| \d+ \| (main|thread)/.test(l)).map((l) => l.slice(1, -1).split('|').map((c) => c.trim()));

describe.each(['pinned-threads', 'multi-heap', 'multi-heap unjoined', 'jvm-many-threads'])('inspect/2 %s: heaps and arenas agree in every format', (name) => {
  it('text: one row per arena, its heaps column = arenas[].heaps.length', () => {
    const r = docs.get(name)!;
    const rows = textArenaRows(renderText(r, { color: false }));
    expect(rows.map((c) => [Number(c[0]), c[1], Number(c[2])])).toEqual(r.arenas.map((a) => [a.index, a.kind, a.heaps.length]));
    expect(rows.map((c) => c[7])).toEqual(r.arenas.map((a) => formatBytes(a.rssBytes)));
    expect(renderText(r)).toContain(`arenas ${r.arenas.length} / threads ${r.arenaMax.threads} / CPUs 2`);
  });
  it('markdown, html and openmetrics count the same heaps', () => {
    const r = docs.get(name)!;
    expect(mdArenaRows(renderMarkdown(r)).map((c) => Number(c[2]))).toEqual(r.arenas.map((a) => a.heaps.length));
    expect(renderMarkdown(r)).toContain(`| **all** |  | ${r.arenas.reduce((s, a) => s + a.heaps.length, 0)} |`);
    expect(renderMarkdown(r)).toContain(`${r.arenas.length} arenas for ${r.arenaMax.threads} threads`);
    const html = [...renderHtml(r).matchAll(/<h3>Arena (\d+) [\s\S]*?<span class="muted">(\d+) heaps?/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(html).toEqual(r.arenas.map((a) => [a.index, a.heaps.length]));
    const om = [...renderOpenMetrics(r).matchAll(/^heapgap_arena_heaps\{[^}]*arena="(\d+)"[^}]*\} (\d+)$/gm)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(om).toEqual(r.arenas.map((a) => [a.index, a.heaps.length]));
    expect(renderOpenMetrics(r)).toMatch(new RegExp(`^heapgap_arenas\\{[^}]*\\} ${r.arenas.length}$`, 'm'));
  });
});

describe('inspect/2 heaps are heaps, not VMAs', () => {
  it('a thread arena\'s rw part and its ---p reserve are one heap; three heap_infos are three heaps', () => {
    const pinned = docs.get('pinned-threads')!;
    expect(pinned.arenas.slice(1).map((a) => [a.heaps.length, a.heaps[0]!.vmas!.map((v) => v.perm)])).toEqual(pinned.arenas.slice(1).map(() => [1, ['rw-p', '---p']]));
    expect(docs.get('multi-heap')!.arenas[1]!.heaps).toHaveLength(3);
  });
});

describe('experiment/2: savingVsDefault is printed as bytes', () => {
  const doc = JSON.parse(readFileSync(new URL('../../fixtures/reports/experiment-api-server-arena-max.json', import.meta.url), 'utf8')) as ExperimentReport;
  // The runs used more memory than the default one: negative savings, and one of exactly 1 MiB.
  const loss = { peakBytes: -MIB, finalBytes: -2 * MIB, peakRatio: -MIB / 452464640 };
  const worse: ExperimentReport = { ...doc, runs: doc.runs.map((r) => (r.savingVsDefault === null ? r : { ...r, savingVsDefault: loss })) };
  const runs = (d: ExperimentReport) => d.runs.filter((r) => r.savingVsDefault !== null).map((r) => ({ arenaMax: String(r.arenaMax), ...r.savingVsDefault! }));

  it.each([['as measured', doc], ['worse than default', worse]] as const)('%s: text, markdown and html print the bytes', (_, d) => {
    const [text, md, html] = [renderText(d), renderMarkdown(d), renderHtml(d)];
    for (const s of runs(d)) {
      expect(text).toContain(`${formatSignedBytes(s.peakBytes)} (${(s.peakRatio * 100).toFixed(1)}%)`);
      expect(md).toContain(`| ${formatSignedBytes(-s.finalBytes)} |`);
      expect(html).toContain(formatSignedBytes(s.peakBytes));
    }
    for (const out of [text, md, html]) expect(out).not.toMatch(/(^|[^\d.])-?[01] B\b/m); // a ratio formatted as bytes
  });

  it.each([['as measured', doc], ['worse than default', worse]] as const)('%s: openmetrics exports bytes as bytes and the ratio apart', (_, d) => {
    const om = renderOpenMetrics(d);
    const value = (family: string, arenaMax: string) => Number(new RegExp(`^heapgap_${family}\\{[^}]*arena_max="${arenaMax}"\\} (\\S+)$`, 'm').exec(om)?.[1]);
    for (const s of runs(d)) {
      expect(value('experiment_saving_vs_default_bytes', s.arenaMax)).toBe(s.peakBytes);
      expect(value('experiment_saving_vs_default_final_bytes', s.arenaMax)).toBe(s.finalBytes);
      expect(value('experiment_saving_vs_default_peak_ratio', s.arenaMax)).toBeCloseTo(s.peakRatio, 6);
    }
    expect(om).not.toMatch(/^heapgap_experiment_saving_vs_default\w*\{[^}]*arena_max="default"/m);
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/report/html.js';
import type { AnyReport, DiffReport, ExperimentReport, InspectReport, TrimReport } from '../../src/types.js';

const load = <T extends AnyReport>(name: string): T =>
  JSON.parse(readFileSync(new URL(`../../fixtures/reports/${name}.json`, import.meta.url), 'utf8')) as T;
const inspect = load<InspectReport>('inspect-api-server-four-arenas');
const withComm = (comm: string): InspectReport => ({ ...inspect, target: { ...inspect.target, comm } });

/** The markup of each `.arena` block, keyed by data-index. */
function arenaBlocks(html: string): Map<string, string> {
  const parts = html.split('<div class="arena" data-index="').slice(1);
  return new Map(parts.map((p) => [p.slice(0, p.indexOf('"')), p]));
}
const widths = (markup: string, before: string): number[] =>
  [...markup.matchAll(new RegExp(`${before}<rect x="[\\d.]+" y="\\d+" width="([\\d.]+)"`, 'g'))].map((m) => Number(m[1]));

describe('renderHtml: a self-contained page', () => {
  it.each(['inspect-api-server-four-arenas', 'trim-api-server-four-arenas', 'experiment-api-server-arena-max', 'diff-api-server-one-hour'])(
    '%s loads nothing from outside and runs no script', (name) => {
      const html = renderHtml(load(name));
      expect(html.startsWith('<!doctype html>')).toBe(true);
      expect(html).toContain("default-src 'none'");
      expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|\bsrc=|\bhref=|\bon[a-z]+=/i);
      expect([...html.matchAll(/url\(([^)]*)\)/g)].map((m) => m[1])).toSatisfy((refs: string[]) => refs.every((r) => r === '#hatch'));
    });
});

describe('renderHtml: inspect', () => {
  const html = renderHtml(inspect);

  it('has the sections and one element per arena and finding', () => {
    for (const id of ['breakdown', 'arenas', 'findings']) expect(html).toContain(`<section id="${id}">`);
    expect([...arenaBlocks(html).keys()]).toEqual(['0', '1', '2', '3']);
    const sev = [...html.matchAll(/<li class="finding" data-severity="(\w+)"/g)].map((m) => m[1]);
    expect(sev).toEqual(['critical', 'warn', 'warn', 'info', 'info']);
  });

  it('shows the figures', () => {
    expect(html).toContain('<span class="comm">api-server</span> <span class="pid">pid 48213</span>');
    expect(html).toContain('<div class="value">163 MiB</div>');
    expect(html).toContain('<td>317 MiB</td><td>77.9%</td>');
    expect(arenaBlocks(html).get('2')).toContain('<dt>held-free rss</dt><dd>39.8 MiB</dd>');
    expect(arenaBlocks(html).get('0')).toContain('0x5581f4a2e000 · 180 MiB');
    expect(html).toContain('Target stopped for <strong>184 ms</strong>');
    expect(html).toContain('<code>heapgap trim 48213</code>');
  });

  it('draws every arena on one scale', () => {
    const blocks = arenaBlocks(html);
    const heap = (i: string) => widths(blocks.get(i)!, '<g class="heap"><title>[^<]*</title>');
    const [main] = heap('0'), [a3] = heap('3'), [h1, h2] = heap('1');
    expect(main! / a3!).toBeCloseTo(180 / 16, 1);
    expect(h1! / h2!).toBeCloseTo(64 / 42, 1);
    // The malloc lane starts with the in-use segment; it is in-use bytes at the same scale.
    const inUse = Number(/<rect x="64" y="42" width="([\d.]+)"/.exec(blocks.get('0')!)?.[1]);
    expect(inUse / main!).toBeCloseTo(inspect.arenas[0]!.inUseBytes / inspect.arenas[0]!.heaps[0]!.size, 2);
  });

  it('marks pinned and inferred arenas', () => {
    const blocks = arenaBlocks(html);
    expect(blocks.get('0')).toMatch(/^0" data-kind="main" data-pinned="true"/);
    expect(blocks.get('1')).toMatch(/^1" data-kind="thread" data-pinned="false"/);
    expect(blocks.get('3')).toContain('heaps inferred');
  });
});

describe('renderHtml: hostile text', () => {
  it('escapes a comm carrying markup', () => {
    const html = renderHtml(withComm('<script>alert(1)</script>'));
    expect(html).not.toContain('<script>');
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(html).toContain('<title>heapgap inspect: &#60;script&#62;');
  });

  it('escapes quotes and shows the newline of "a\\nb"', () => {
    const html = renderHtml(withComm('"a\nb"'));
    expect(html).toContain('<span class="comm">&#34;a\\nb&#34;</span>');
  });

  it('escapes finding text but keeps its code spans', () => {
    const doc = { ...inspect, findings: [{ kind: 'k"><b>', severity: 'warn' as const, bytes: 1, message: 'run `rm -rf "<x>"` & <i>x</i>', hint: '' }] };
    const html = renderHtml(doc);
    expect(html).toContain('data-kind="k&#34;&#62;&#60;b&#62;"');
    expect(html).toContain('run <code>rm -rf &#34;&#60;x&#62;&#34;</code> &#38; &#60;i&#62;x&#60;/i&#62;');
  });
});

describe('renderHtml: other schemas', () => {
  it('renders a trim as before/after bars per arena', () => {
    const html = renderHtml(load<TrimReport>('trim-api-server-four-arenas'));
    expect([...arenaBlocks(html).keys()]).toEqual(['0', '1', '2', '3']);
    expect(html).toContain('<div class="value">156 MiB</div>');
    expect(html).toContain('released 37.9 MiB · predicted 38.9 MiB');
    expect(html).toMatch(/<li class="finding" data-severity="warn" data-kind="trim-short"/);
  });

  it('renders an experiment as one bar per run', () => {
    const html = renderHtml(load<ExperimentReport>('experiment-api-server-arena-max'));
    expect([...html.matchAll(/<div class="run" data-arena-max="(\w+)"/g)].map((m) => m[1])).toEqual(['1', '2', '4', 'default']);
    expect(html).toContain('244 MiB final / 301 MiB peak');
  });

  it('renders a diff with new arenas and finding changes', () => {
    const html = renderHtml(load<DiffReport>('diff-api-server-one-hour'));
    expect([...arenaBlocks(html).keys()]).toEqual(['0', '1', '2', '3', '4']);
    expect(arenaBlocks(html).get('4')).toContain('>not present</text>');
    expect(html).toContain('<td class="up">+8.00 MiB</td>');
    expect(html.match(/data-change="resolved"/g)).toHaveLength(2);
    expect(html.match(/data-change="appeared"/g)).toHaveLength(1);
  });
});

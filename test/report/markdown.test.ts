import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../src/report/markdown.js';
import type { DiffReport, ExperimentReport, InspectReport, TrimReport } from '../../src/types.js';

const load = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`../../fixtures/reports/${name}.json`, import.meta.url), 'utf8')) as T;
const inspect = load<InspectReport>('inspect-api-server-four-arenas');
const withComm = (comm: string): InspectReport => ({ ...inspect, target: { ...inspect.target, comm } });

/** Cells of a table row, split on pipes that are not backslash-escaped. */
const cells = (line: string): string[] => line.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim());

/** Every table in the output, as arrays of rows of cells. */
function tables(md: string): string[][][] {
  const blocks = md.split(/\n(?!\|)/).map((b) => b.split('\n').filter((l) => l.startsWith('|')));
  return blocks.filter((b) => b.length > 0).map((b) => b.map(cells));
}

describe('renderMarkdown: inspect', () => {
  const md = renderMarkdown(inspect);

  it('opens with a heading naming the process', () => {
    expect(md.split('\n')[0]).toBe('## heapgap inspect: api-server (pid 48213)');
  });

  it('tabulates the Rss breakdown with shares of Rss', () => {
    expect(md).toContain('| arena | 317 MiB | 77.9% | 436 MiB | 9 |');
    expect(md).toContain('| file | 40.9 MiB | 10.0% | 118 MiB | 187 |');
    expect(md).toContain('| **total** | **407 MiB** | 100% |  | 257 |');
  });

  it('tabulates every arena with its figures and pinned state', () => {
    expect(md).toContain('| 0 | main | 1 | 180 MiB | 67.3 MiB | 113 MiB | 172 MiB | 105 MiB | **yes** |');
    expect(md).toContain('| 1 | thread | 2 | 106 MiB | 72.1 MiB | 33.9 MiB | 89.0 MiB | 16.9 MiB | no |');
    expect(md).toContain('| 3 | thread (inferred) | 1 | 16.0 MiB | 5.04 MiB | 11.0 MiB | 7.00 MiB | 1.96 MiB | no |');
  });

  it('keeps every table rectangular', () => {
    const all = tables(md);
    expect(all).toHaveLength(2);
    for (const t of all) for (const row of t) expect(row).toHaveLength(t[0]!.length);
  });

  it('lists findings with severity, bytes and hint, keeping code spans', () => {
    const items = md.split('\n').filter((l) => l.startsWith('- **'));
    expect(items.map((l) => l.split(' ')[1])).toEqual(['**CRITICAL**', '**WARN**', '**WARN**', '**INFO**', '**INFO**']);
    expect(items[0]).toContain('held-free-gap (163 MiB)');
    expect(md).toContain('_Hint:_ Run `heapgap trim 48213` to measure');
    expect(md).toContain('`heapgap experiment --arena-max 1,2,4,default -- <cmd>`');
  });

  it('reports the pause and the notes', () => {
    expect(md).toContain('Target stopped for **184 ms** (attach 52 ms, call 121 ms).');
    expect(md).toContain("> Arena 3's heap was inferred");
  });
});

describe('renderMarkdown: hostile text', () => {
  it('escapes HTML in the comm', () => {
    const md = renderMarkdown(withComm('<script>alert(1)</script>'));
    expect(md).not.toMatch(/(?<!\\)<script/);
    expect(md.split('\n')[0]).toBe('## heapgap inspect: \\<script\\>alert(1)\\</script\\> (pid 48213)');
  });

  it('keeps a comm with quotes and a newline on the heading line', () => {
    const md = renderMarkdown(withComm('"a\nb"'));
    // printable() turns the newline into \n, whose backslash md() escapes so it renders as typed.
    expect(md.split('\n')[0]).toBe('## heapgap inspect: "a\\\\nb" (pid 48213)');
  });

  it('escapes table pipes and markup in finding text', () => {
    const doc: InspectReport = {
      ...inspect,
      findings: [{ kind: 'x|y', severity: 'warn', bytes: null, message: 'a | b *c* [l](http://e) <img src=x onerror=alert(1)>', hint: 'h\n# not a heading' }],
    };
    const md = renderMarkdown(doc);
    expect(md).toContain('x\\|y: a \\| b \\*c\\* \\[l\\](http://e) \\<img src=x onerror=alert(1)\\>');
    expect(md).toContain('_Hint:_ h\\\\n\\# not a heading');
    expect(md).not.toMatch(/^# /m);
  });
});

describe('renderMarkdown: other schemas', () => {
  it('renders a trim as before, after and released per arena', () => {
    const md = renderMarkdown(load<TrimReport>('trim-api-server-four-arenas'));
    expect(md.split('\n')[0]).toBe('## heapgap trim: api-server (pid 48213)');
    expect(md).toContain('**156 MiB released** (predicted 161 MiB)');
    expect(md).toContain('| 2 | thread | 49.0 MiB | 11.1 MiB | 37.9 MiB | 38.9 MiB |');
    expect(md).toContain('**WARN** trim-short');
  });

  it('renders an experiment as one row per MALLOC_ARENA_MAX', () => {
    const md = renderMarkdown(load<ExperimentReport>('experiment-api-server-arena-max'));
    expect(md).toContain('./build/api-server --port 0 --replay traffic-2025-03-13.log');
    expect(md).toContain('| 1 | 301 MiB | 244 MiB | -164 MiB | 1 | 48.2 s | 0 | 3 |');
    expect(md).toContain('| default | 432 MiB | 408 MiB |  | 9 | 40.0 s | 0 | 3 |');
  });

  it('renders a diff with deltas, new arenas and finding changes', () => {
    const md = renderMarkdown(load<DiffReport>('diff-api-server-one-hour'));
    expect(md).toContain('Rss 407 MiB → 405 MiB (**-1.96 MiB**)');
    expect(md).toContain('| mmap-chunk | 36.3 MiB | 44.3 MiB | +8.00 MiB |');
    expect(md).toContain('| 4 | heap@0x7f59f8000000 | _new_ | 19.0 MiB | +19.0 MiB |');
    expect(md).toMatch(/### Findings that were resolved\n\n- \*\*WARN\*\* pinned-top/);
  });
});

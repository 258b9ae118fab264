// Every format renders every kind of document as ONE valid document: inspect/2 built from the real
// captures, the hand-written fixtures/reports/*.json, a trim, a diff, a demo and a watch summary.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { diffReports } from '../../src/analyse/diff.js';
import { analyse } from '../../src/analyse/inspect.js';
import { analyseTrim } from '../../src/analyse/trim.js';
import type { WatchSummary } from '../../src/analyse/watch.js';
import { FORMATS } from '../../src/contract.js';
import { parseDocument } from '../../src/parse/capture.js';
import { loadReporter } from '../../src/report/index.js';
import type { AnyReport, DemoReport, DiffReport, ExperimentReport, TrimReport } from '../../src/types.js';
import { fixtureSnapshot, layoutFromTruth, withRss } from '../fixture-snapshot.js';
import { fixture } from '../fixtures.js';

const reportFile = (name: string) => readFileSync(new URL(`../../fixtures/reports/${name}.json`, import.meta.url), 'utf8');
const handWritten = <T extends AnyReport>(name: string): T => JSON.parse(reportFile(name)) as T;

const PROMTOOL = spawnSync('promtool', ['--version']).error === undefined;
const MISSING = 'promtool not found on PATH (apt-get install -y prometheus); OpenMetrics validity not checked';

async function documents(): Promise<Record<string, AnyReport>> {
  const pinned = analyse(await fixtureSnapshot('pinned-threads'));
  const loaded = parseDocument(reportFile('inspect-api-server-four-arenas'), 'inspect-api-server-four-arenas.json');
  if (loaded.kind !== 'inspect') throw new Error('expected an inspect/1 document');
  // A trim as madvise leaves it: the pinned thread heap and the brk area with less Rss.
  const smapsAfter = withRss(withRss(fixture('pinned-threads', 'smaps'), '7f93e0000000', 300), '55a311c22000', 1200);
  const trim = analyseTrim(pinned, 0, { smapsAfter, returned: 1 });
  const after = analyse(await fixtureSnapshot('pinned-threads', { smaps: smapsAfter }));
  const watch: WatchSummary = {
    schema: 'heapgap.watch-summary/1', pid: 24884, ticks: 12, durationMs: 11_000,
    rss: { first: pinned.rss.total, last: after.rss.total, min: after.rss.total, max: pinned.rss.total },
    arenas: [
      { key: 'main', index: 0, first: pinned.arenas[0]!.rssBytes, last: after.arenas[0]!.rssBytes, max: pinned.arenas[0]!.rssBytes },
      { key: '0x7f93e0000030', index: 3, first: 13119488, last: 307200, max: 13119488 },
      { key: '0x7f93f0000030', index: null, first: 0, last: 135168, max: 135168 },
    ],
  };
  return {
    'inspect/2 pinned-threads': pinned,
    'inspect/2 multi-heap (arena ring read)': analyse(await fixtureSnapshot('multi-heap', { layout: layoutFromTruth('multi-heap') })),
    'inspect/2 jvm-many-threads': analyse(await fixtureSnapshot('jvm-many-threads')),
    'inspect/1 api-server': loaded.report,
    'trim/2 api-server': handWritten<TrimReport>('trim-api-server-four-arenas'),
    'trim/2 pinned-threads': trim,
    'trim/2 dry run': analyseTrim(pinned, 0, null),
    'experiment/2 api-server': handWritten<ExperimentReport>('experiment-api-server-arena-max'),
    'diff/1 api-server': handWritten<DiffReport>('diff-api-server-one-hour'),
    'diff/1 pinned-threads trimmed': diffReports(pinned, after),
    'demo/1 pinned-threads': { schema: 'heapgap.demo/1', before: pinned, trim, after } satisfies DemoReport,
    'watch-summary/1': watch,
  };
}

let docs: Record<string, AnyReport>;
beforeAll(async () => { docs = await documents(); });
const NAMES = ['inspect/2 pinned-threads', 'inspect/2 multi-heap (arena ring read)', 'inspect/2 jvm-many-threads', 'inspect/1 api-server', 'trim/2 api-server',
  'trim/2 pinned-threads', 'trim/2 dry run', 'experiment/2 api-server', 'diff/1 api-server', 'diff/1 pinned-threads trimmed', 'demo/1 pinned-threads', 'watch-summary/1'];
const render = async (format: (typeof FORMATS)[number], name: string) => (await loadReporter(format))(docs[name]!, { color: false });
const count = (text: string, re: RegExp) => (text.match(re) ?? []).length;

it('covers every format and every document built', () => {
  expect([...FORMATS].sort()).toEqual(['html', 'json', 'markdown', 'openmetrics', 'text']);
  expect(Object.keys(docs)).toEqual(NAMES);
});

describe.each(NAMES)('%s', (name) => {
  it('json: one value, the document itself', async () => {
    const out = await render('json', name);
    expect(JSON.parse(out)).toEqual(JSON.parse(JSON.stringify(docs[name])));
  });

  it('html: one <!doctype html> page', async () => {
    const out = await render('html', name);
    expect(out.startsWith('<!doctype html>\n')).toBe(true);
    expect(out.trimEnd().endsWith('</html>')).toBe(true);
    for (const tag of [/<!doctype html>/gi, /<html[\s>]/g, /<\/html>/g, /<head>/g, /<\/head>/g, /<body>/g, /<main /g]) {
      expect([tag.source, count(out, tag)]).toEqual([tag.source, 1]);
    }
    expect(count(out.slice(0, out.indexOf('</head>')), /<title>/g)).toBe(1); // svg <title>s are tooltips
    expect(out).toContain(`<main data-schema="${docs[name]!.schema}">`);
  });

  it('text and markdown: one document, no unformatted figure', async () => {
    for (const format of ['text', 'markdown'] as const) {
      const out = await render(format, name);
      expect(out.endsWith('\n')).toBe(true);
      expect(out).not.toMatch(/NaN|undefined|Infinity|\[object Object\]|-1 B\b/);
    }
    const md = await render('markdown', name);
    expect(count(md, /^# /gm)).toBeLessThanOrEqual(1); // at most one title: a demo is one document with sections
  });

  it('openmetrics: one exposition that promtool accepts, each family named once', async (ctx) => {
    const out = await render('openmetrics', name);
    expect(count(out, /^# EOF$/gm)).toBe(1);
    expect(out.endsWith('\n# EOF\n')).toBe(true);
    const types = [...out.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
    expect(types.length).toBeGreaterThan(0);
    expect(new Set(types).size).toBe(types.length);
    const samples = out.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.slice(0, l.lastIndexOf(' ')));
    expect(new Set(samples).size).toBe(samples.length); // no series twice
    for (const s of samples) expect(types).toContain(/^[a-z_]+/.exec(s)![0]);
    if (!PROMTOOL) return ctx.skip(MISSING);
    const r = spawnSync('promtool', ['check', 'metrics'], { input: out, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('demo/1: three reports in one document', () => {
  it('html has a section per phase; openmetrics tells the two inspects apart by phase', async () => {
    const demo = docs['demo/1 pinned-threads'] as DemoReport;
    const html = await render('html', 'demo/1 pinned-threads');
    for (const id of ['demo-before', 'demo-trim', 'demo-after']) expect(count(html, new RegExp(`<section id="${id}">`, 'g'))).toBe(1);
    const om = await render('openmetrics', 'demo/1 pinned-threads');
    expect(om).toContain(`heapgap_process_rss_bytes{phase="before",pid="4242",comm="pinned-threads"} ${demo.before.rss.total}\n`);
    expect(om).toContain(`heapgap_process_rss_bytes{phase="after",pid="4242",comm="pinned-threads"} ${demo.after.rss.total}\n`);
    expect(om).toContain(`heapgap_trim_released_bytes{pid="4242",comm="pinned-threads"} ${demo.trim.releasedBytes}\n`);
    expect(demo.trim.releasedBytes).toBe(demo.before.rss.total - demo.after.rss.total);
  });
});

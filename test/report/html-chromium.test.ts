import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/report/html.js';
import type { AnyReport, InspectReport } from '../../src/types.js';

// Opens the rendered pages in a real browser: what matters is the DOM it builds, not our string.
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = spawnSync(CHROMIUM, ['--version']).status === 0;
const MISSING = `${CHROMIUM} not found (apt-get install -y chromium, or set CHROMIUM); HTML not checked in a browser`;
const FIXTURES = ['inspect-api-server-four-arenas', 'trim-api-server-four-arenas', 'experiment-api-server-arena-max', 'diff-api-server-one-hour'];

const load = <T extends AnyReport>(name: string): T =>
  JSON.parse(readFileSync(new URL(`../../fixtures/reports/${name}.json`, import.meta.url), 'utf8')) as T;
const work = mkdtempSync(join(tmpdir(), 'heapgap-html-'));
// Set HEAPGAP_SCREENSHOT_DIR to keep the screenshots for a look.
const shots = process.env.HEAPGAP_SCREENSHOT_DIR ?? join(work, 'shots');
mkdirSync(shots, { recursive: true });
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function chromium(page: string, ...extra: string[]): Promise<string> {
  const profile = mkdtempSync(join(work, 'profile-'));
  const { stdout } = await promisify(execFile)(CHROMIUM, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, ...extra, `file://${page}`,
  ], { timeout: 60_000, maxBuffer: 16 << 20 });
  return stdout;
}

function write(name: string, doc: AnyReport): string {
  const path = join(work, `${name}.html`);
  writeFileSync(path, renderHtml(doc));
  return path;
}

describe.concurrent('renderHtml in headless Chromium', { timeout: 90_000 }, () => {
  it('builds the inspect DOM: breakdown, arenas and findings', async (ctx) => {
    if (!HAVE_CHROMIUM) ctx.skip(MISSING);
    const dom = await chromium(write('inspect', load('inspect-api-server-four-arenas')), '--dump-dom');
    for (const id of ['breakdown', 'arenas', 'findings']) expect(dom).toContain(`<section id="${id}">`);
    expect([...dom.matchAll(/<div class="arena" data-index="(\d+)"/g)].map((m) => m[1])).toEqual(['0', '1', '2', '3']);
    expect([...dom.matchAll(/<li class="finding" data-severity="(\w+)"/g)].map((m) => m[1]))
      .toEqual(['critical', 'warn', 'warn', 'info', 'info']);
    expect(dom.match(/<g class="heap">/g)).toHaveLength(5);
    expect(dom).toContain('163 MiB');
  });

  it('keeps a hostile comm as text', async (ctx) => {
    if (!HAVE_CHROMIUM) ctx.skip(MISSING);
    const doc = load<InspectReport>('inspect-api-server-four-arenas');
    const comm = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>"a\nb"';
    const dom = await chromium(write('hostile', { ...doc, target: { ...doc.target, comm } }), '--dump-dom');
    expect(dom).not.toMatch(/<script|<img/i);
    expect(dom).not.toContain('<title>pwned');
    expect(dom).toContain('<span class="comm">&lt;script&gt;document.title="pwned"&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"a\\nb"</span>');
  });

  it.for(FIXTURES)('takes a screenshot of %s', async (name, ctx) => {
    if (!HAVE_CHROMIUM) ctx.skip(MISSING);
    const png = join(shots, `${name}.png`);
    await chromium(write(name, load(name)), `--screenshot=${png}`, '--window-size=1200,1600');
    const bytes = readFileSync(png);
    expect(bytes.subarray(1, 4).toString()).toBe('PNG');
    expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([1200, 1600]);
    // A blank or unstyled page compresses to a few KiB; the charts and tables do not.
    expect(bytes.length).toBeGreaterThan(40_000);
  });
});

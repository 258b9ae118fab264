// The page map in the HTML report, from a real target, as a browser builds it: each walked heap's
// runs to scale and a marker on the pinning chunk the target says pins its heap.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTarget, stopAllTargets } from '../helpers/targets.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = spawnSync(CHROMIUM, ['--version']).status === 0;
const MISSING = `${CHROMIUM} not found (apt-get install -y chromium, or set CHROMIUM); HTML not checked in a browser`;
const work = mkdtempSync(join(tmpdir(), 'heapgap-pagemap-'));
afterAll(async () => {
  await stopAllTargets();
  rmSync(work, { recursive: true, force: true });
});

describe('page map in the HTML report', { timeout: 90_000 }, () => {
  it('draws every walked heap with the target\'s own pinning pointer marked', async (ctx) => {
    if (!HAVE_CHROMIUM) ctx.skip(MISSING);
    const t = await startTarget('raised-threshold', ['4194304', '32', '1048576']);
    const truth = JSON.parse(t.line) as { pinning: { address: string }[] };
    const page = join(work, 'inspect.html');
    const json = await runCli(['inspect', String(t.pid), '--json']);
    const r = await runCli(['inspect', String(t.pid), '--format', 'html', '-o', page]);
    await t.stop();
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { arenas: { pageMaps: { start: string; livePages: number; freeResidentPages: number }[] }[] };
    const { stdout: dom } = await promisify(execFile)(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      `--user-data-dir=${mkdtempSync(join(work, 'profile-'))}`, '--dump-dom', `file://${page}`], { timeout: 60_000, maxBuffer: 16 << 20 });
    const maps = [...dom.matchAll(/<g class="page-map" data-start="(0x[0-9a-f]+)" data-live="(\d+)" data-free-resident="(\d+)"/g)];
    expect(maps.map((m) => m[1])).toEqual([report.arenas[0]!.pageMaps[0]!.start]);
    expect(Number(maps[0]![2])).toBe(report.arenas[0]!.pageMaps[0]!.livePages);
    expect([...dom.matchAll(/<g class="pin" data-address="(0x[0-9a-f]+)"/g)].map((m) => m[1])).toEqual(truth.pinning.map((p) => p.address));
    expect(dom).toContain(`Pinned by the live chunk at <code>${truth.pinning[0]!.address}</code>`);
    // Free-resident memory (31 freed 1 MiB blocks) is drawn as one red run, the live block after it.
    expect(dom).toMatch(/class="run-R"[^>]*><title>free, resident: 31\.\d MiB/);
    expect(readFileSync(page, 'utf8')).not.toMatch(/<script/i);
  });
});

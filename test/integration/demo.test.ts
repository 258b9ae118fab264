// The README's first command: the bundled target, inspected, trimmed, inspected again.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import type { DemoReport } from '../../src/types.js';

describe('demo', () => {
  it('shows held-free memory, a trim that returns what inspect predicted, and nothing left to trim', async () => {
    const r = await runCli(['demo', '--json'], { timeout: 120_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as DemoReport;
    expect(doc.schema).toBe('heapgap.demo/1');
    const { before, trim, after } = doc;
    expect(before.schema).toBe('heapgap.inspect/2');
    expect(trim.schema).toBe('heapgap.trim/2');
    expect(before.arenas.length).toBeGreaterThan(2);
    expect(before.totals.heldFreeRssBytes).toBeGreaterThan(0.3 * before.rss.total);
    expect(trim.returned).toBe(1);
    const released = trim.releasedBytes!;
    expect(Math.abs(released - before.totals.predictedTrimBytes)).toBeLessThanOrEqual(0.1 * released);
    expect(after.rss.total).toBeLessThan(before.rss.total - 0.9 * released);
    expect(after.totals.predictedTrimBytes).toBeLessThan(0.01 * released);
    // before: a trim is the advice; after it, what stays free is not sent to trim again
    expect(before.findings.map((f) => f.kind)).toContain('held-free-gap');
    expect(after.findings.map((f) => f.kind)).not.toContain('held-free-gap');
    for (const f of after.findings) expect(f.hint, f.kind).not.toMatch(/run `heapgap trim/);
    expect(r.stderr).toMatch(/^heapgap: trim released/m);
  });
});

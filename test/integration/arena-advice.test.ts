// inspect's arena advice against an experiment on the same many-thread, staggered-wave workload.
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { buildTarget, startTarget, stopAllTargets } from '../helpers/targets.js';
import type { ExperimentReport, InspectReport } from '../../src/types.js';

afterAll(stopAllTargets);
const MIB = 1024 * 1024;

describe('arena advice', () => {
  it('the bound inspect gives covers the saving experiment measures, which is real', async () => {
    const t = await startTarget('fragmenter');
    const report = JSON.parse((await runCli(['inspect', String(t.pid), '--json'])).stdout) as InspectReport;
    await t.stop();
    const advice = report.findings.find((f) => f.kind === 'arena-count');
    expect(advice, 'inspect advises capping arenas').toBeDefined();
    const cap = Number(/MALLOC_ARENA_MAX=(\d+)/.exec(advice!.hint)![1]);
    const bin = await buildTarget('fragmenter');
    const r = await runCli(['experiment', '--arena-max', `${cap},default`, '--duration', '3s', '--json', '--', bin], { timeout: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const exp = JSON.parse(r.stdout) as ExperimentReport;
    const capped = exp.runs.find((x) => x.arenaMax === cap)!;
    const base = exp.runs.find((x) => x.arenaMax === 'default')!;
    const measured = base.finalRssBytes - capped.finalRssBytes;
    console.log(`arena advice: cap ${cap}: inspect bound ${(advice!.bytes! / MIB).toFixed(1)} MiB, experiment measured ${(measured / MIB).toFixed(1)} MiB (default ${(base.finalRssBytes / MIB).toFixed(1)} MiB, ${base.arenas} arenas; capped ${(capped.finalRssBytes / MIB).toFixed(1)} MiB, ${capped.arenas} arenas)`);
    expect(capped.arenas).toBeLessThanOrEqual(cap);
    expect(base.arenas).toBeGreaterThan(cap);
    expect(measured).toBeGreaterThan(5 * MIB);
    expect(measured).toBeLessThanOrEqual(advice!.bytes! * 1.1);
  });
});

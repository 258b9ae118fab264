// experiment: caps applied through either form reach the workload, repeats give medians, and a
// stopped server's exit is reported, not mistaken for a failure of heapgap.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { CLI_PATH, runCli } from '../helpers/cli.js';
import { testDir } from '../helpers/scratch.js';
import { buildTarget } from '../helpers/targets.js';
import type { ExperimentReport } from '../../src/types.js';

describe('experiment', () => {
  it('GLIBC_TUNABLES form, --repeat medians, --duration stops the workload politely', async () => {
    const bin = await buildTarget('pinned-threads');
    const marker = join(testDir('heapgap-load-'), 'loaded');
    const r = await runCli(['experiment', '--arena-max', '1,default', '--via', 'tunables', '--repeat', '2', '--duration', '800ms', '--load', `touch ${marker}`, '--warmup', '100ms', '--json', '--', bin, '4', '200', '32768'], { timeout: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as ExperimentReport;
    expect(doc.schema).toBe('heapgap.experiment/2');
    expect(doc.command[0]).toBe(bin);
    const [one, base] = doc.runs;
    expect(one!.arenaMax).toBe(1);
    expect(one!.arenas).toBe(1);
    expect(base!.arenas).toBe(5); // main + one per thread
    expect(one!.repeats).toBe(2);
    expect(one!.exitCode).toBe(0); // SIGTERM -> the target exits 0
    expect(one!.peakRssBytes).toBeGreaterThan(0);
    expect(one!.wallMs).toBeGreaterThanOrEqual(800);
    expect(base!.savingVsDefault).toBeNull(); // the default run is the baseline
    // bytes are bytes: peak and final differences against the default run, and the ratio of the peaks
    expect(one!.savingVsDefault!.peakBytes).toBe(base!.peakRssBytes - one!.peakRssBytes);
    expect(one!.savingVsDefault!.finalBytes).toBe(base!.finalRssBytes - one!.finalRssBytes);
    expect(one!.savingVsDefault!.peakRatio).toBeCloseTo((base!.peakRssBytes - one!.peakRssBytes) / base!.peakRssBytes, 9);
    expect(r.stderr).toMatch(/run arena max 1 \(2\/2\)/);
    expect(existsSync(marker)).toBe(true); // --load ran alongside, after the warm-up
  });

  it("heapgap's children see NODE_EXTRA_CA_CERTS as the user set it; node itself never loads it", async () => {
    // main.js's sh line takes the variable from node (its CA bundle costs node's start ~40 ms) and
    // main.ts gives it back. A bundle node cannot read would be a warning at node's start.
    const dir = testDir('heapgap-ca-');
    const seen = (name: string) => ['sh', '-c', `printf '%s|%s' "\${NODE_EXTRA_CA_CERTS-unset}" "\${HEAPGAP_NODE_EXTRA_CA_CERTS-unset}" > ${join(dir, name)}`];
    const set = await runCli(['experiment', '--arena-max', 'default', '--json', '--', ...seen('set')], { env: { NODE_EXTRA_CA_CERTS: '/nonexistent/ca bundle.pem' } });
    expect(set.exitCode, set.stderr).toBe(0);
    expect(readFileSync(join(dir, 'set'), 'utf8')).toBe('/nonexistent/ca bundle.pem|unset');
    expect(set.stderr).not.toMatch(/extra certs|ca bundle/i);
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const unset = await execa(CLI_PATH, ['experiment', '--arena-max', 'default', '--json', '--', ...seen('unset')], { env, extendEnv: false, reject: false, stdin: 'ignore' });
    expect(unset.exitCode, unset.stderr).toBe(0);
    expect(readFileSync(join(dir, 'unset'), 'utf8')).toBe('unset|unset');
  });

  it('rejects a bad list and a missing command with exit 2', async () => {
    expect((await runCli(['experiment', '--arena-max', '0,x', '--', 'true'])).exitCode).toBe(2);
    expect((await runCli(['experiment', '--arena-max', '2'])).exitCode).toBe(2);
    const missing = await runCli(['experiment', '--arena-max', '2', '--', '/nonexistent/program']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/^heapgap: cannot run \/nonexistent\/program/m);
  });
});

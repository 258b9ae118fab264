// Mutation fuzzing of every input parser, fast subset with a fixed seed (the long run is
// `node scripts/fuzz.mjs`, which uses the same generator). Through the CLI, `heapgap report FILE`
// of a damaged capture or report must exit 0 or 2, say what is wrong in exactly one `heapgap:` line,
// never print a stack trace and finish within 10 s. Called directly, parseSmaps, parseMallocInfo and
// parseStatus may only throw HeapgapError with code BAD_INPUT.
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// Plain ESM without types (scripts/ has no build step).
// @ts-ignore -- no declaration file for the .mjs script
import { fuzzParsers, loadParsers, loadSeeds, makeCase, rawSeeds, runReportCases } from '../../scripts/fuzz.mjs';

const SEED = 20240611;
const REPORT_CASES = 200;
const DIRECT_CASES = 2000; // per parser

const work = mkdtempSync(join(tmpdir(), 'heapgap-fuzz-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface ReportResult {
  id: number;
  seed: string;
  format: string;
  ops: string[];
  exitCode: number | null;
  ms: number;
  stderr: string;
  violations: string[];
  signature: string | null;
  file: string;
}

describe('fuzz', () => {
  const seeds = loadSeeds();

  it('has seeds from every raw fixture and the report documents', () => {
    expect(seeds.length).toBeGreaterThanOrEqual(8);
    const raw = rawSeeds(seeds);
    expect(raw.smaps.length).toBeGreaterThanOrEqual(5);
    expect(raw.mallocInfo.length).toBeGreaterThanOrEqual(5);
    // the generator is deterministic
    expect(makeCase(seeds, SEED, 7).buf.equals(makeCase(seeds, SEED, 7).buf)).toBe(true);
  });

  it(`report: ${REPORT_CASES} mutated inputs exit 0 or 2 with one heapgap: line and no stack trace`, { timeout: 180_000 }, async () => {
    const dir = join(work, 'cases');
    mkdirSync(dir, { recursive: true });
    const cases = Array.from({ length: REPORT_CASES }, (_, i) => makeCase(seeds, SEED, i));
    const results = (await runReportCases(cases, { concurrency: 4, dir })) as ReportResult[];
    const failed = results.filter((r) => r.violations.length > 0);
    let kept = '';
    if (failed.length) {
      kept = mkdtempSync(join(tmpdir(), 'heapgap-fuzz-failures-'));
      for (const f of failed) cpSync(f.file, join(kept, `case-${f.id}.json`));
    }
    const groups = new Map<string, ReportResult[]>();
    for (const f of failed) groups.set(f.signature!, [...(groups.get(f.signature!) ?? []), f]);
    const explain = [...groups].map(([sig, rs]) => `${rs.length} x ${sig}\n    e.g. node dist/cli/main.js report ${join(kept, `case-${rs[0]!.id}.json`)} --format ${rs[0]!.format}  [${rs[0]!.seed}: ${rs[0]!.ops.join(' ')}]`).join('\n');
    expect(failed.length, `seed ${SEED}: ${failed.length} of ${results.length} cases broke the contract:\n${explain}`).toBe(0);
    // The mutations reach both outcomes: some damage is tolerated, most is refused.
    expect(results.some((r) => r.exitCode === 0)).toBe(true);
    expect(results.some((r) => r.exitCode === 2)).toBe(true);
  });

  it(`parsers: ${DIRECT_CASES} mutated inputs each only ever throw HeapgapError BAD_INPUT`, { timeout: 120_000 }, async () => {
    const out = fuzzParsers(await loadParsers(), rawSeeds(seeds), { seed: SEED, n: DIRECT_CASES }) as {
      cases: number;
      threw: number;
      violations: Record<string, { count: number; example: { kind: string; ops: string[]; input: string; stack?: string } }>;
    };
    expect(out.cases).toBe(3 * DIRECT_CASES);
    const explain = Object.entries(out.violations)
      .map(([sig, v]) => `${v.count} x ${sig}\n    e.g. ${v.example.kind} after ${v.example.ops.join('+')}: ${JSON.stringify(v.example.input.slice(0, 300))}`)
      .join('\n');
    expect(Object.keys(out.violations), `seed ${SEED}:\n${explain}`).toEqual([]);
    expect(out.threw).toBeGreaterThan(0);
  });
});

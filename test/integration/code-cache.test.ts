// The CLI's V8 code cache (src/cli/code-cache.ts): written by a command's first successful run,
// used by the next, refused by V8 when it does not fit, never read from or written to a place
// others can write. Each case runs a copy of the built CLI (main.js, its bundle, package.json) in a
// directory of its own, so the cache starts empty; what became of the cache is read from the
// `heapgap-n code-cache-<use>` mark (HEAPGAP_DEBUG).
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

const BUILT = join(REPO_ROOT, 'dist', 'cli');
const BUNDLE = readdirSync(BUILT).find((f) => /^heapgap-\w+\.cjs$/.test(f));
const root = mkdtempSync(join(tmpdir(), 'heapgap-code-cache-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let copies = 0;
/** A copy of the built CLI; returns its dist/cli directory. */
function copyCli(): string {
  const pkg = join(root, `copy-${copies++}`);
  const cli = join(pkg, 'dist', 'cli');
  mkdirSync(cli, { recursive: true, mode: 0o755 });
  copyFileSync(join(REPO_ROOT, 'package.json'), join(pkg, 'package.json'));
  for (const f of ['main.js', 'package.json', BUNDLE!]) copyFileSync(join(BUILT, f), join(cli, f));
  return cli;
}

function run(cli: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(cli, 'main.js'), ...args], { encoding: 'utf8', env: { ...process.env, HEAPGAP_DEBUG: '1', ...env } });
  const use = /^heapgap-n code-cache-(\w+) /m.exec(r.stderr)?.[1];
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, use };
}

const cacheOf = (cli: string, command: string) => join(cli, 'code-cache', `${BUNDLE}.${command}.node-${process.version}-${process.arch}.v8`);

describe('the code cache', () => {
  it('is built: one bundle, named by its content', () => {
    expect(BUNDLE, 'dist/cli/heapgap-<hash>.cjs (npm run build)').toBeDefined();
    const hash = createHash('sha256').update(readFileSync(join(BUILT, BUNDLE!))).digest('hex').slice(0, 16);
    expect(BUNDLE).toBe(`heapgap-${hash}.cjs`);
    expect(readFileSync(join(BUILT, 'main.js'), 'utf8')).toContain(JSON.stringify(BUNDLE));
  });

  it("is written by a command's first run, used by the next, one per command", () => {
    const cli = copyCli();
    const first = run(cli, ['--version']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.use).toBe('none');
    const file = cacheOf(cli, 'other');
    expect(existsSync(file), 'written at exit').toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(statSync(join(cli, 'code-cache')).mode & 0o022).toBe(0);
    const second = run(cli, ['--version']);
    expect(second.use, second.stderr).toBe('used');
    expect(second.stdout).toBe(first.stdout);
    // another command: a cache of its own, made by its own run
    expect(existsSync(cacheOf(cli, 'help'))).toBe(false);
    const help = run(cli, ['help']);
    expect(help.code, help.stderr).toBe(0);
    expect(help.use).toBe('none');
    expect(existsSync(cacheOf(cli, 'help'))).toBe(true);
    expect(run(cli, ['help']).use).toBe('used');
  });

  /** A cache written by a first run, then changed by `damage`: refused, the output right, written again, used next. */
  function refusedOnceDamaged(damage: (bytes: Buffer) => void): void {
    const cli = copyCli();
    run(cli, ['--version']);
    const file = cacheOf(cli, 'other');
    const bad = Buffer.from(readFileSync(file));
    damage(bad);
    writeFileSync(file, bad);
    const r = run(cli, ['--version']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.use).toBe('rejected');
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(readFileSync(file).equals(bad), 'written again').toBe(false);
    expect(run(cli, ['--version']).use).toBe('used');
  }

  it('whose bytes were damaged past its header is refused, not run, and written again', () => {
    // V8 (a release build) checks a cache's header, not its payload: heapgap's digest does
    refusedOnceDamaged((bad) => {
      for (let i = Math.floor(bad.length / 2); i < bad.length; i += 97) bad[i] = bad[i]! ^ 0xff;
    });
  });

  it('that does not fit is refused by V8, and written again', () => {
    // V8's header says another V8 made it (its first words changed), under a digest that fits
    refusedOnceDamaged((bad) => {
      for (let i = 32; i < 48; i++) bad[i] = bad[i]! ^ 0x5a;
      createHash('sha256').update(bad.subarray(32)).digest().copy(bad, 0);
    });
  });

  it('is neither read nor written where others can write', () => {
    const cli = copyCli();
    run(cli, ['--version']);
    const file = cacheOf(cli, 'other');
    const before = readFileSync(file);
    chmodSync(join(cli, 'code-cache'), 0o777);
    const open = run(cli, ['--version']);
    expect(open.code, open.stderr).toBe(0);
    expect(open.use).toBe('untrusted');
    expect(run(cli, ['help']).use).toBe('none');
    expect(existsSync(cacheOf(cli, 'help')), 'not written into a directory others can write').toBe(false);
    chmodSync(join(cli, 'code-cache'), 0o755);
    chmodSync(file, 0o666);
    expect(run(cli, ['--version']).use).toBe('untrusted');
    expect(readFileSync(file).equals(before)).toBe(true);
    // a directory above it that others can write (not sticky) counts the same
    chmodSync(file, 0o644);
    chmodSync(join(cli, '..'), 0o777);
    expect(run(cli, ['--version']).use).toBe('untrusted');
    chmodSync(join(cli, '..'), 0o755);
    expect(run(cli, ['--version']).use).toBe('used');
  });

  it('is not written by a run that fails, nor with HEAPGAP_CODE_CACHE=off', () => {
    const cli = copyCli();
    const failed = run(cli, ['report', join(root, 'no-such-capture.json')]);
    expect(failed.code, failed.stderr).toBe(2);
    expect(failed.use).toBe('none');
    expect(existsSync(cacheOf(cli, 'report'))).toBe(false);
    const off = run(cli, ['--version'], { HEAPGAP_CODE_CACHE: 'off' });
    expect(off.code, off.stderr).toBe(0);
    expect(off.use).toBe('off');
    expect(existsSync(join(cli, 'code-cache'))).toBe(false);
  });
});

// How the CLI ends (src/cli/main.ts): at once when the command has ended (beforeExit -> exit), but
// only then. A command whose await never settles empties node's event loop: that is exit 13, as
// node gives an unsettled top-level await: a bug to see, never a silent exit 0 with nothing said.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_PATH, REPO_ROOT } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'heapgap-exit-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], imports: string[] = [], cli = CLI_PATH): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const c = spawn(process.execPath, [...imports.flatMap((i) => ['--import', i]), cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  return new Promise((r) => c.on('close', (code) => r({ code, stderr, stdout })));
}

describe('the CLI exits', () => {
  it('with its exit code once the command has ended', async () => {
    const ok = await run(['--version']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/\d+\.\d+/);
    const bad = await run(['report', join(dir, 'no-such-capture.json')]);
    // contract.md: 2 for an unreadable input file
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toMatch(/^heapgap: cannot read .*no-such-capture\.json/m);
  });
  it('as node does (13) when a command never settles: never a silent 0', async () => {
    // main.js next to a bundle of the same name whose run() awaits a promise nothing will ever settle
    const cli = join(REPO_ROOT, 'dist', 'cli');
    const bundle = readdirSync(cli).find((f) => /^heapgap-\w+\.cjs$/.test(f));
    expect(bundle, 'the built bundle (npm run build)').toBeDefined();
    const copy = join(dir, 'hang', 'dist', 'cli');
    mkdirSync(copy, { recursive: true });
    for (const f of ['main.js', 'package.json']) copyFileSync(join(cli, f), join(copy, f));
    writeFileSync(join(copy, bundle!), 'exports.run = async function () { await new Promise(() => {}); };\n');
    const r = await run(['--version'], [], join(copy, 'main.js'));
    expect(r.code, r.stderr).toBe(13);
    expect(r.stderr).toMatch(/^heapgap: internal error: the command never finished/m);
    // nor is the code of such a run kept as the command's code cache
    expect(existsSync(join(copy, 'code-cache'))).toBe(false);
  });
});

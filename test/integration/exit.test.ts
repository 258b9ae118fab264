// How the CLI ends (src/cli/main.ts): at once when the command has ended (beforeExit -> exit), but
// only then. A command whose await never settles empties node's event loop: that is node's exit 13:
// a bug to see, never a silent exit 0 with nothing said.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_PATH } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'heapgap-exit-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], imports: string[] = []): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const c = spawn(process.execPath, [...imports.flatMap((i) => ['--import', i]), CLI_PATH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    // the program's chunk replaced by one whose main() awaits a promise nothing will ever settle
    const hooks = join(dir, 'hang-hooks.mjs');
    writeFileSync(hooks, "export async function load(url, c, next) { if (/\\/program(-\\w+)?\\.js$/.test(url)) return { format: 'module', shortCircuit: true, source: 'export async function main() { await new Promise(() => {}); }' }; return next(url, c); }\n");
    const register = join(dir, 'hang-register.mjs');
    writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
    const r = await run(['--version'], [register]);
    expect(r.code, r.stderr).toBe(13);
  });
});

/**
 * The CLI's code, compiled with V8's code cache. Everything but main.js is one CommonJS bundle,
 * dist/cli/heapgap-<content hash>.cjs (scripts/bundle.mjs); node 20 has a code cache for scripts
 * only, not for ES modules. Without one, V8 parses and compiles every function the first time it
 * runs, on every run: for inspect that was about a fifth of node's CPU, much of it while the user
 * waits (the program before gdb may attach; the XML parser, the arena walk and the analysis after
 * detach). `node scripts/bench-startup.mjs` times inspect with and without the cache.
 *
 * The cache is V8's own (vm.Script cachedData), one file per command and node version, in
 * dist/cli/code-cache/. A command that ends with exit 0 and found no usable cache writes one as it
 * exits: it holds the functions that run compiled, so the next run of that command compiles almost
 * nothing. V8 refuses a cache made by another V8 or other flags (the file is then written again),
 * but checks neither the source (only its length: the bundle's name carries its hash) nor, in a
 * release build, the cache's own bytes: each file begins with the SHA-256 of the rest, checked
 * before V8 sees it (a damaged cache is refused as V8 refuses one, not run).
 *
 * The cache is code that runs with heapgap's privileges, root's often: it is read only from a
 * directory that no one but root or heapgap's user can write to, up to / (owned.ts, the rule
 * dist/pycache follows), and only written there. Elsewhere, or with HEAPGAP_CODE_CACHE=off, the
 * bundle is compiled from its source, as without a cache.
 */
import { createHash } from 'node:crypto';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Script } from 'node:vm';
import { fileOwnedSafely, ownedSafely } from '../owned.js';

/**
 * The bundle's file name, set by scripts/bundle.mjs when it builds main.js (which is CommonJS: the
 * import.meta.url below is main.js's own URL, put there by the same build).
 */
declare const HEAPGAP_BUNDLE: string;

/** What became of the cache on this run: heapgap-n marks say it (HEAPGAP_DEBUG). */
export type CacheUse = 'used' | 'none' | 'rejected' | 'untrusted' | 'off';

export interface Cli {
  run(argv: string[], cache: CacheUse): Promise<void>;
}

export interface Loaded {
  cli: Cli;
  cache: CacheUse;
}

// The bundle's own scope, as node's CommonJS loader gives a module: on the first line, so that line
// numbers in stack traces are the file's.
const HEAD = '(function (exports, require, module, __filename, __dirname, __heapgap_url) {';
const TAIL = '\n})';

/** The commands a cache is kept for; any other first argument (--version, a typo) shares one. */
const COMMAND = /^[a-z]{2,12}$/;

/** Each cache file: the SHA-256 of what follows, then V8's data. */
const DIGEST = 32;
const digest = (data: Buffer) => createHash('sha256').update(data).digest();

export function loadCli(argv: string[], dir = dirname(fileURLToPath(import.meta.url)), bundle = HEAPGAP_BUNDLE): Loaded {
  const file = join(dir, bundle);
  const source = readFileSync(file, 'utf8');
  const command = argv[2] !== undefined && COMMAND.test(argv[2]) ? argv[2] : 'other';
  const cacheDir = join(dir, 'code-cache');
  const cacheFile = join(cacheDir, `${bundle}.${command}.node-${process.version}-${process.arch}.v8`);
  const off = process.env.HEAPGAP_CODE_CACHE === 'off';
  const trusted = !off && ownedSafely(cacheDir) && fileOwnedSafely(cacheFile);
  const stored = trusted ? readCache(cacheFile) : null;
  const cachedData = stored instanceof Buffer ? stored : undefined;
  const script = new Script(HEAD + source + TAIL, { filename: file, ...(cachedData ? { cachedData } : {}) });
  let cache: CacheUse;
  if (off) cache = 'off';
  else if (stored === 'damaged' || script.cachedDataRejected === true) cache = 'rejected';
  else if (cachedData) cache = 'used';
  else cache = trusted || !existsSync(cacheFile) ? 'none' : 'untrusted';
  if (cache === 'none' || cache === 'rejected') {
    process.once('exit', (code) => {
      // (main.ts's own listener, which runs first, may have set exitCode for a command that never ended)
      if (code === 0 && (process.exitCode ?? 0) === 0) writeCache(script, cacheDir, cacheFile);
    });
  }
  const module = { exports: {} as Cli };
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper(module.exports, createRequire(file), module, file, dir, pathToFileURL(file).href);
  return { cli: module.exports, cache };
}

/** V8's data from a cache file whose digest holds; 'damaged' when it does not; null when there is none. */
function readCache(cacheFile: string): Buffer | 'damaged' | null {
  let stored: Buffer;
  try {
    stored = readFileSync(cacheFile);
  } catch {
    return null; // gone meanwhile
  }
  const data = stored.subarray(DIGEST);
  return stored.length > DIGEST && digest(data).equals(stored.subarray(0, DIGEST)) ? data : 'damaged';
}

/**
 * The code V8 compiled during this run, written aside and renamed into place (two runs that end
 * together each write a whole file). Never an error: the run's result is out already.
 */
function writeCache(script: Script, cacheDir: string, cacheFile: string): void {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    if (!ownedSafely(dirname(cacheDir))) return;
    if (!existsSync(cacheDir)) {
      mkdirSync(cacheDir, { mode: 0o755 });
      chmodSync(cacheDir, 0o755); // whatever the umask: one that lets the group write would make it untrusted
    }
    if (!ownedSafely(cacheDir)) return;
    accessSync(cacheDir, constants.W_OK); // before V8 serialises half a megabyte for nothing
    const data = script.createCachedData();
    writeFileSync(tmp, Buffer.concat([digest(data), data]), { mode: 0o644, flag: 'wx' });
    renameSync(tmp, cacheFile);
  } catch {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // nothing more to do
    }
  }
}


#!/usr/bin/env node
// Deterministic mutation fuzzing of heapgap's input parsers: through `heapgap report FILE` (every
// case must exit 0 or 2, print exactly one `heapgap:` line when it fails, never a stack trace, and
// finish within 10 s) and directly against parseSmaps / parseMallocInfo / parseStatus from dist/
// (they may only throw HeapgapError with code BAD_INPUT). See fixtures/safety/README.md.
//
//   node scripts/fuzz.mjs [--seed N] [--cases 600] [--direct 5000] [--concurrency 4]
//                         [--live | --no-live] [--keep DIR] [--out FILE] [--cli PATH] [--verbose]
//
// --cli PATH: another build (its dist/ is also where the parsers are imported from).
// --live (default when gdb and gcc are present) builds the churn target and adds a fresh
// `heapgap capture` of it to the seeds; --no-live keeps the run a pure function of --seed.
// Also a library: test/safety/fuzz.test.ts imports the same generator and checks.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execa } from 'execa';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export let CLI = join(ROOT, 'dist', 'cli', 'main.js');
export const CASE_TIMEOUT_MS = 10_000;
const FIXTURES = join(ROOT, 'fixtures');
// The capture builder reads smaps and the heap size the way heapgap does (needs `npm run build`).
const DIST = join(ROOT, 'dist');
const { parseSmaps: distParseSmaps } = await import(pathToFileURL(join(DIST, 'parse/smaps.js')).href);
const { DEFAULT_HEAP_MAX } = await import(pathToFileURL(join(DIST, 'allocators/glibc/layout.js')).href);
const FORMATS = ['text', 'text', 'json', 'markdown', 'html', 'openmetrics'];

// ---- PRNG -------------------------------------------------------------------------------------

/** mulberry32 with helpers; every random choice of a run comes from one of these. */
export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = {
    next,
    int: (n) => Math.floor(next() * n),
    range: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    chance: (p) => next() < p,
    /** A child generator: cases stay independent of how many draws earlier cases made. */
    fork: (salt) => prng((Math.imul(seed ^ 0x9e3779b9, 2654435761) + Math.imul(salt + 1, 40503)) >>> 0),
  };
  return r;
}

// ---- seeds --------------------------------------------------------------------------------------

const read = (p) => readFileSync(p, 'utf8');

/** Fixture directories that hold a raw capture (smaps, status, malloc-info.xml). */
export function rawFixtureDirs() {
  return readdirSync(FIXTURES, { withFileTypes: true })
    .filter((d) => d.isDirectory() && ['smaps', 'status', 'malloc-info.xml'].every((f) => existsSync(join(FIXTURES, d.name, f))))
    .map((d) => d.name)
    .sort();
}

/**
 * A capture document built from a fixture directory, as `heapgap capture` would have written it.
 * Where the fixture has a truth.json, its thread-arena heaps become layout arenas and claims, so
 * the arena-join code is reached too.
 */
export function captureFromFixture(name) {
  const dir = join(FIXTURES, name);
  const status = read(join(dir, 'status'));
  const smaps = read(join(dir, 'smaps'));
  const heapMax = DEFAULT_HEAP_MAX;
  const tgid = Number(/^Tgid:\s*(\d+)/m.exec(status)?.[1] ?? 1);
  const comm = /^Name:\s*(.*)$/m.exec(status)?.[1] ?? name;
  let layout = null;
  const claims = [];
  if (existsSync(join(dir, 'truth.json'))) {
    const truth = JSON.parse(read(join(dir, 'truth.json')));
    const vmas = distParseSmaps(smaps, `fixtures/${name}/smaps`);
    const arenas = [{ index: 0, address: '0x7f0000001000', systemMem: 135168, top: '0x7f0000002000', heaps: [] }];
    truth.threads.forEach((th, i) => {
      const heaps = th.heapBases.map((b) => {
        const base = BigInt(b);
        const inside = vmas.filter((v) => v.start >= base && v.start < base + BigInt(heapMax));
        const rw = inside[0];
        const size = rw ? Number(rw.end - rw.start) : 135168;
        for (const v of inside) claims.push({ start: `0x${v.start.toString(16)}`, end: `0x${v.end.toString(16)}`, category: 'arena', rss: v.rss, arena: i + 1 });
        return { start: b, size, mprotectSize: size };
      });
      arenas.push({ index: i + 1, address: `0x${(BigInt(th.heapBases[0] ?? '0x0') + 0x30n).toString(16)}`, systemMem: heaps.reduce((s, h) => s + h.size, 0), top: th.heapBases[0] ?? '0x0', heaps });
    });
    layout = { arenas, note: null };
  }
  return {
    schema: 'heapgap.capture/1',
    heapgapVersion: '0.1.0',
    takenAt: '2026-11-23T02:11:00.000Z',
    pid: tgid,
    comm,
    cpus: 2,
    allocator: 'glibc',
    allocatorEvidence: '/usr/lib/x86_64-linux-gnu/libc.so.6',
    glibcVersion: '2.36',
    env: {},
    heapMax,
    raw: { smaps, status, mallocInfo: read(join(dir, 'malloc-info.xml')) },
    layout,
    claims,
    stackPointers: [],
    pause: { stoppedMs: null, attachMs: null, callMs: 0 },
    notes: [`synthesised by scripts/fuzz.mjs from fixtures/${name}`],
  };
}

/** Seeds for `report`: one capture per raw fixture, plus the report documents under fixtures/reports. */
export function loadSeeds({ liveCaptures = [] } = {}) {
  const seeds = rawFixtureDirs().map((n) => ({ name: `fixture:${n}`, text: `${JSON.stringify(captureFromFixture(n))}\n` }));
  const reports = join(FIXTURES, 'reports');
  if (existsSync(reports)) {
    for (const f of readdirSync(reports).filter((x) => x.endsWith('.json')).sort()) seeds.push({ name: `reports:${f}`, text: read(join(reports, f)) });
  }
  for (const [i, file] of liveCaptures.entries()) seeds.push({ name: `live:${i}`, text: read(file) });
  return seeds;
}

/** Raw texts for the direct parser fuzz, by parser. */
export function rawSeeds(seeds) {
  const out = { smaps: [], status: [], mallocInfo: [] };
  for (const s of seeds) {
    let doc;
    try {
      doc = JSON.parse(s.text);
    } catch {
      continue;
    }
    if (doc?.schema !== 'heapgap.capture/1') continue;
    out.smaps.push(doc.raw.smaps);
    out.status.push(doc.raw.status);
    if (typeof doc.raw.mallocInfo === 'string') out.mallocInfo.push(doc.raw.mallocInfo);
  }
  return out;
}

// ---- text mutations ----------------------------------------------------------------------------

const INTERESTING_NUMBERS = [
  '0', '-1', '-0', '1', '4096', '65535', '2147483648', '4294967296', '9007199254740993', '18446744073709551615',
  '99999999999999999999999999999999', '1e308', '1e309', '-1e309', '1.5', '0.0000001', 'NaN', 'Infinity', '-Infinity',
  '0x10', '0b1', '1_000', '', ' ', 'abc', ' 12 ', '٣', '１２', '12abc', '-', '+5', '000000000000000000000000001',
];
const INTERESTING_CHARS = ['\0', '\n', '\r', '\r\n', '\t', ' ', ':', '-', '<', '>', '/', '"', "'", '&', '=', '{', '}', '[', ']', ',', 'kB', '\u00ff', '\ufeff', '\u2028', '\ud800', '\u{1f600}', '0', '9', 'f', 'x'];
const XML_NAMES = ['malloc', 'heap', 'sizes', 'size', 'unsorted', 'total', 'system', 'aspace', 'nr', 'type', 'from', 'to', 'count', 'version', '__proto__', 'constructor', 'toString', '#text', 'x:heap'];
const ELEMENT_NAMES = ['heap', 'sizes', 'size', 'unsorted', 'total', 'system', 'aspace'];
const STATUS_KEYS = ['Name', 'State', 'Tgid', 'TracerPid', 'Uid', 'Threads', 'SigBlk', 'SigCgt', 'SigIgn', 'Seccomp', 'CapEff', 'VmRSS', '__proto__', 'constructor'];
const SMAPS_KEYS = ['Rss', 'Pss', 'Anonymous', 'Swap', 'Size', 'Private_Dirty', '__proto__', 'constructor', 'hasOwnProperty', 'toString', 'VmFlags', 'THPeligible'];

function lines(text) {
  return text.split('\n');
}

export const TEXT_OPS = {
  truncate(t, r) {
    return t.slice(0, r.int(t.length + 1));
  },
  flip(t, r) {
    const a = [...t];
    for (let k = r.range(1, 8); k > 0 && a.length; k--) {
      const i = r.int(a.length);
      a[i] = String.fromCodePoint((a[i].codePointAt(0) ^ (1 << r.int(8))) % 0x110000 || 1);
    }
    return a.join('');
  },
  insert(t, r) {
    let s = t;
    for (let k = r.range(1, 6); k > 0; k--) {
      const i = r.int(s.length + 1);
      const piece = r.chance(0.2) ? r.pick(INTERESTING_CHARS).repeat(r.range(2, 2000)) : r.pick(INTERESTING_CHARS);
      s = s.slice(0, i) + piece + s.slice(i);
    }
    return s;
  },
  delete(t, r) {
    if (!t.length) return t;
    const i = r.int(t.length);
    return t.slice(0, i) + t.slice(i + r.range(1, Math.min(64, t.length - i)));
  },
  dupLines(t, r) {
    const l = lines(t);
    const i = r.int(l.length);
    const n = r.range(1, Math.min(20, l.length - i));
    const times = r.chance(0.15) ? r.range(50, 400) : r.range(1, 3);
    const block = l.slice(i, i + n);
    const rep = [];
    for (let k = 0; k < times; k++) rep.push(...block);
    return [...l.slice(0, i + n), ...rep, ...l.slice(i + n)].join('\n');
  },
  delLines(t, r) {
    const l = lines(t);
    const i = r.int(l.length);
    return [...l.slice(0, i), ...l.slice(i + r.range(1, 30))].join('\n');
  },
  swapLines(t, r) {
    const l = lines(t);
    if (l.length < 2) return t;
    const i = r.int(l.length);
    const j = r.int(l.length);
    [l[i], l[j]] = [l[j], l[i]];
    return l.join('\n');
  },
  shuffleBlock(t, r) {
    const l = lines(t);
    const i = r.int(l.length);
    const block = l.slice(i, i + r.range(2, 40));
    for (let k = block.length - 1; k > 0; k--) {
      const j = r.int(k + 1);
      [block[k], block[j]] = [block[j], block[k]];
    }
    return [...l.slice(0, i), ...block, ...l.slice(i + block.length)].join('\n');
  },
  numbers(t, r) {
    const spots = [...t.matchAll(/(?:0x)?[0-9a-f]*\d[0-9a-f]*/gi)];
    if (!spots.length) return t;
    let s = t;
    for (let k = r.range(1, 4); k > 0; k--) {
      const m = r.pick(spots);
      if (m.index + m[0].length > s.length) continue;
      s = s.slice(0, m.index) + r.pick(INTERESTING_NUMBERS) + s.slice(m.index + m[0].length);
    }
    return s;
  },
  emptyFields(t, r) {
    // "Key: value" -> "Key:" / "Key: " ; attr="v" -> attr=""
    if (r.chance(0.5)) return t.replace(/^([A-Za-z_]+):.*$/gm, (whole, k) => (r.chance(0.15) ? `${k}:` : whole));
    return t.replace(/="[^"]*"/g, (whole) => (r.chance(0.15) ? '=""' : whole));
  },
  crlf(t) {
    return t.replace(/\n/g, '\r\n');
  },
  keys(t, r) {
    // Prototype-ish and duplicate keys in "Key: N kB" / "Key:\tvalue" formats.
    const l = lines(t);
    for (let k = r.range(1, 3); k > 0; k--) {
      const i = r.int(l.length + 1);
      const line = r.chance(0.5) ? `${r.pick(SMAPS_KEYS)}: ${r.pick(INTERESTING_NUMBERS)} kB` : `${r.pick(STATUS_KEYS)}:\t${r.pick(INTERESTING_NUMBERS)}`;
      l.splice(i, 0, line);
    }
    return l.join('\n');
  },
};

export const XML_OPS = {
  dropGt(t, r) {
    const at = [...t.matchAll(/>/g)];
    if (!at.length) return t;
    const m = r.pick(at);
    return t.slice(0, m.index) + t.slice(m.index + 1);
  },
  dropClose(t, r) {
    const at = [...t.matchAll(/<\/[a-z]+>|\/>/g)];
    if (!at.length) return t;
    const m = r.pick(at);
    return t.slice(0, m.index) + (m[0] === '/>' ? '>' : '') + t.slice(m.index + m[0].length);
  },
  renameTag(t, r) {
    const at = [...t.matchAll(/<(\/?)([a-z]+)/g)];
    if (!at.length) return t;
    const m = r.pick(at);
    const name = r.pick(XML_NAMES);
    // rename the open tag and, half the time, its close too (keeps it well-formed).
    let s = t.slice(0, m.index) + `<${m[1]}${name}` + t.slice(m.index + m[0].length);
    if (r.chance(0.5) && !m[1]) s = s.replace(new RegExp(`</${m[2]}>`), `</${name}>`);
    return s;
  },
  renameAttr(t, r) {
    // An attribute named like an element (`<malloc heap="1">`, `<heap total="3">`): parser type confusion.
    const at = [...t.matchAll(/ ([a-z]+)="/g)];
    if (!at.length) return t;
    const m = r.pick(at);
    return t.slice(0, m.index) + ` ${r.pick(r.chance(0.7) ? ELEMENT_NAMES : XML_NAMES)}="` + t.slice(m.index + m[0].length);
  },
  addAttr(t, r) {
    const at = [...t.matchAll(/<([a-z]+)/g)];
    if (!at.length) return t;
    const m = r.pick(at);
    const end = m.index + m[0].length;
    return `${t.slice(0, end)} ${r.pick(r.chance(0.7) ? ELEMENT_NAMES : XML_NAMES)}="${r.pick(INTERESTING_NUMBERS)}"${t.slice(end)}`;
  },
  dupAttr(t, r) {
    const at = [...t.matchAll(/ ([a-z]+)="([^"]*)"/g)];
    if (!at.length) return t;
    const m = r.pick(at);
    const end = m.index + m[0].length;
    return t.slice(0, end) + m[0] + t.slice(end);
  },
  textContent(t, r) {
    // <total ...>text</total>, <heap nr="0">5</heap>, <sizes>junk</sizes>
    const at = [...t.matchAll(/<([a-z]+)([^>]*?)\/>/g)];
    if (!at.length) return t;
    const m = r.pick(at);
    return `${t.slice(0, m.index)}<${m[1]}${m[2]}>${r.pick(['5', 'junk', '<![CDATA[x]]>', '&amp;', '&#0;', ''])}</${m[1]}>${t.slice(m.index + m[0].length)}`;
  },
  nest(t, r) {
    const depth = r.chance(0.3) ? r.range(2000, 20000) : r.range(2, 200);
    const name = r.pick(['heap', 'sizes', 'malloc', 'x']);
    const i = t.indexOf('>') + 1;
    return t.slice(0, i) + `<${name}>`.repeat(depth) + `</${name}>`.repeat(depth) + t.slice(i);
  },
  entities(t, r) {
    const head = r.chance(0.5)
      ? '<?xml version="1.0"?>\n<!DOCTYPE malloc [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>\n'
      : '<!-- comment --><?pi x?>';
    let s = head + t;
    if (r.chance(0.5)) s = s.replace(/nr="0"/, 'nr="&d;"');
    return s;
  },
  heapNr(t, r) {
    return t.replace(/nr="(\d+)"/g, (w) => (r.chance(0.3) ? `nr="${r.pick(INTERESTING_NUMBERS)}"` : w));
  },
  dupHeap(t, r) {
    const at = [...t.matchAll(/<heap nr="\d+">[\s\S]*?<\/heap>/g)];
    if (!at.length) return t;
    const m = r.pick(at);
    const times = r.chance(0.2) ? r.range(100, 2000) : r.range(1, 3);
    const end = m.index + m[0].length;
    return t.slice(0, end) + `\n${m[0]}`.repeat(times) + t.slice(end);
  },
};

export const SMAPS_OPS = {
  header(t, r) {
    // mangle one VMA header: start > end, odd perms, huge offset/inode, odd path.
    const at = [...t.matchAll(/^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) (\S+) (\d+)(.*)$/gm)];
    if (!at.length) return t;
    const m = r.pick(at);
    const v = [...m.slice(1)];
    const k = r.int(7);
    const pool = [
      () => r.pick(['ffffffffffffffffffff', '0', m[2], 'fffffffffffffffff']),
      () => r.pick(['ffffffffffffffffffff', '0', m[1], '1']),
      () => r.pick(['rwxp', '----', 'rw-s', 'rwxS', 'xxxx', 'rw-']),
      () => r.pick(['ffffffffffffffffffffffffff', '0']),
      () => r.pick(['00:00', 'fd:01', 'zz:zz', ':']),
      () => r.pick(['99999999999999999999999', '0', '-1']),
      () => r.pick(['', ' [heap]', ' [stack]', ' [anon:java]', ' /memfd:malloc_info (deleted)', `  ${'x'.repeat(5000)}`, ' \u0000']),
    ];
    v[k] = pool[k]();
    return t.slice(0, m.index) + `${v[0]}-${v[1]} ${v[2]} ${v[3]} ${v[4]} ${v[5]}${v[6]}` + t.slice(m.index + m[0].length);
  },
  hugeSizes(t, r) {
    return t.replace(/^(Rss|Pss|Anonymous|Swap|Size):(\s+)\d+ kB$/gm, (w, k, sp) => (r.chance(0.2) ? `${k}:${sp}${r.pick(['99999999999999999999999', '9007199254740993', '18014398509481984', '0'])} kB` : w));
  },
};

const TEXT_OP_NAMES = Object.keys(TEXT_OPS);

/** 1-3 mutations of raw text; `kind` adds the format-aware operators. */
export function mutateText(text, r, kind) {
  const ops = [...TEXT_OP_NAMES];
  if (kind === 'mallocInfo') ops.push(...Object.keys(XML_OPS), ...Object.keys(XML_OPS));
  if (kind === 'smaps') ops.push(...Object.keys(SMAPS_OPS), ...Object.keys(SMAPS_OPS));
  let s = text;
  const applied = [];
  for (let k = r.range(1, 3); k > 0; k--) {
    const op = r.pick(ops);
    const fn = TEXT_OPS[op] ?? XML_OPS[op] ?? SMAPS_OPS[op];
    s = fn(s, r);
    applied.push(op);
    if (s.length > 8_000_000) s = s.slice(0, 8_000_000);
  }
  return { text: s, ops: applied };
}

// ---- JSON mutations ----------------------------------------------------------------------------

function paths(node, prefix = [], out = [], depth = 0) {
  out.push(prefix);
  if (depth > 6 || node === null || typeof node !== 'object') return out;
  const keys = Array.isArray(node) ? node.map((_, i) => i).slice(0, 12) : Object.keys(node);
  for (const k of keys) paths(node[k], [...prefix, k], out, depth + 1);
  return out;
}

const JSON_VALUES = [
  () => null, () => true, () => 0, () => -1, () => 0.5, () => 1e308, () => -1e-300, () => 2 ** 53 + 2, () => 1e21,
  () => '', () => 'x', () => '0x', () => '0xffffffffffffffffff', () => '-1', () => 'NaN', () => '1e309',
  () => [], () => ({}), () => [null], () => [{}], () => ({ __proto__: null }), () => 'é'.repeat(10000),
];

/** Changes one value of the parsed document: types, deletion, huge/negative numbers, deep nesting, big arrays. */
export function mutateJson(doc, r, subs = []) {
  const all = paths(doc).filter((p) => p.length > 0);
  // Half the time a top-level or second-level field: those are what validation and renderers use.
  const shallow = all.filter((x) => x.length <= 2);
  const p = r.chance(0.5) && shallow.length ? r.pick(shallow) : r.pick(all);
  const parent = p.slice(0, -1).reduce((n, k) => n[k], doc);
  const key = p[p.length - 1];
  const op = r.pick(['type', 'type', 'type', 'delete', 'deep', 'dupArray', 'emptyString', 'number', 'number', 'protoKey', 'wrap']);
  const cur = parent[key];
  switch (op) {
    case 'type':
      parent[key] = r.pick(JSON_VALUES)();
      break;
    case 'delete':
      if (Array.isArray(parent)) parent.splice(key, 1);
      else delete parent[key];
      break;
    case 'deep': {
      // Built as text (JSON.stringify itself would overflow the stack); spliced in by makeCase.
      const n = r.chance(0.3) ? r.range(5000, 100000) : r.range(10, 500);
      const token = `\u0000deep${subs.length}\u0000`;
      const arr = r.chance(0.5);
      subs.push([JSON.stringify(token), (arr ? '[' : '{"a":').repeat(n) + (JSON.stringify(cur) ?? 'null') + (arr ? ']' : '}').repeat(n)]);
      parent[key] = token;
      break;
    }
    case 'dupArray':
      if (Array.isArray(cur) && cur.length) {
        const times = r.chance(0.2) ? r.range(1000, 20000) : r.range(2, 10);
        const items = [];
        for (let i = 0; i < times; i++) items.push(cur[i % cur.length]);
        parent[key] = items;
      } else parent[key] = [cur, cur];
      break;
    case 'emptyString':
      parent[key] = typeof cur === 'string' ? '' : String(cur ?? '');
      break;
    case 'number':
      parent[key] = r.pick([-1, -0, 0, 0.5, 1e-300, 1e308, 2 ** 53, 2 ** 64, 4294967296, 3.14159, Number.MAX_SAFE_INTEGER, 1, 7]);
      break;
    case 'protoKey':
      if (cur && typeof cur === 'object' && !Array.isArray(cur)) {
        // Own "__proto__"/"constructor" keys as JSON.parse would create them.
        Object.defineProperty(cur, r.pick(['__proto__', 'constructor', 'toString', 'hasOwnProperty']), { value: r.pick(JSON_VALUES)(), enumerable: true, configurable: true, writable: true });
      } else parent[key] = { __proto__x: cur };
      break;
    case 'wrap':
      parent[key] = r.chance(0.5) ? [cur] : { value: cur };
      break;
  }
  return `${op}@${p.join('.')}`;
}

// ---- whole-file byte mutations -----------------------------------------------------------------

export function mutateBytes(text, r) {
  let b = Buffer.from(text, 'utf8');
  const op = r.pick(['truncate', 'flip', 'insert', 'delete', 'invalidUtf8', 'bom']);
  if (op === 'truncate') b = b.subarray(0, r.int(b.length + 1));
  else if (op === 'flip') {
    b = Buffer.from(b);
    for (let k = r.range(1, 16); k > 0 && b.length; k--) b[r.int(b.length)] ^= 1 << r.int(8);
  } else if (op === 'insert') {
    const i = r.int(b.length + 1);
    b = Buffer.concat([b.subarray(0, i), Buffer.from(r.pick(['{', '[', '"', '\\', '\0', ',', ':', '}', ']', 'null', '{"a":', '\\u0000', '\\ud800']).repeat(r.range(1, 50))), b.subarray(i)]);
  } else if (op === 'delete') {
    const i = r.int(b.length);
    b = Buffer.concat([b.subarray(0, i), b.subarray(i + r.range(1, 200))]);
  } else if (op === 'invalidUtf8') {
    const i = r.int(b.length + 1);
    b = Buffer.concat([b.subarray(0, i), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]), b.subarray(i)]);
  } else {
    b = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b]);
  }
  return { buf: b, op };
}

// ---- cases ---------------------------------------------------------------------------------------

/**
 * Case i of a run: a seed document mutated one of three ways (raw text inside a capture; a JSON value;
 * the file's bytes), rendered in one of the formats. Deterministic in (seed, i, seeds).
 */
export function makeCase(seeds, seed, i) {
  const r = prng(seed).fork(i);
  const s = seeds[r.int(seeds.length)];
  const format = r.pick(FORMATS);
  const how = r.next();
  let doc = null;
  try {
    doc = JSON.parse(s.text);
  } catch {
    // a seed that is not JSON only gets byte mutations
  }
  const pretty = r.chance(0.5);
  const ops = [];
  const subs = [];
  let buf;
  if (doc && doc.schema === 'heapgap.capture/1' && how < 0.5) {
    const field = r.pick(['smaps', 'smaps', 'status', 'mallocInfo', 'mallocInfo']);
    if (typeof doc.raw?.[field] === 'string') {
      const m = mutateText(doc.raw[field], r, field);
      doc.raw[field] = m.text;
      ops.push(`raw.${field}:${m.ops.join('+')}`);
    }
    if (r.chance(0.2)) ops.push(mutateJson(doc, r, subs));
    buf = Buffer.from(splice(stringify(doc, pretty), subs));
  } else if (doc && how < 0.85) {
    for (let k = r.range(1, 3); k > 0; k--) ops.push(mutateJson(doc, r, subs));
    buf = Buffer.from(splice(stringify(doc, pretty), subs));
  } else {
    const m = mutateBytes(doc && pretty ? stringify(doc, true) : s.text, r);
    ops.push(`bytes:${m.op}`);
    buf = m.buf;
  }
  return { id: i, seed: s.name, format, ops, buf };
}

function stringify(doc, pretty) {
  return (pretty ? JSON.stringify(doc, null, 2) : JSON.stringify(doc)) ?? 'null';
}

function splice(text, subs) {
  let s = text;
  for (const [token, value] of subs) s = s.split(token).join(value);
  return s;
}

// ---- checking `report` runs ------------------------------------------------------------------------

/** The contract for a `report` of damaged input. Returns the violations (empty = fine). */
export function judgeReport(r) {
  const v = [];
  const stderr = r.stderr ?? '';
  if (r.timedOut) v.push(`took longer than ${CASE_TIMEOUT_MS / 1000} s`);
  else if (r.exitCode !== 0 && r.exitCode !== 2) v.push(`exit ${r.exitCode ?? r.signal}`);
  const heapgapLines = stderr.split('\n').filter((l) => l.startsWith('heapgap: '));
  if (r.exitCode !== 0 && !r.timedOut && heapgapLines.length !== 1) v.push(`${heapgapLines.length} heapgap: lines on stderr`);
  if (/^\s+at .+/m.test(stderr)) v.push('stack trace on stderr');
  if (/internal error/.test(stderr)) v.push('internal error');
  const other = stderr.split('\n').filter((l) => l !== '' && !l.startsWith('heapgap: ') && !l.startsWith('hint: '));
  if (other.length && !/^\s+at /.test(other[0])) v.push(`unexpected stderr: ${other[0].slice(0, 80)}`);
  return v;
}

/** Softer findings: output that parsed but is suspicious (reported, not failed). */
export function observeReport(r, format) {
  const o = [];
  if (r.exitCode !== 0) return o;
  const out = r.stdout ?? '';
  if (out.trim() === '') o.push('exit 0 with empty output');
  if (format === 'json') {
    try {
      JSON.parse(out);
    } catch {
      o.push('json output does not parse');
    }
  }
  if (/\bNaN\b/.test(out)) o.push('NaN in output');
  if (/\b-?Infinity\b/.test(out)) o.push('Infinity in output');
  if (/\bundefined\b/.test(out)) o.push('"undefined" in output');
  if (/\[object Object\]/.test(out)) o.push('[object Object] in output');
  return o;
}

/** A short signature to group violations by (first heapgap: line with digits and quotes blurred). */
function signature(r, violations) {
  const first = (r.stderr ?? '').split('\n').find((l) => l.startsWith('heapgap: ')) ?? '';
  const frame = /^\s+at .+/m.exec(r.stderr ?? '')?.[0]?.trim() ?? '';
  return `${violations.join(', ')} | ${first.replace(/"[^"]*"/g, '"…"').replace(/\d+/g, 'N').slice(0, 140)}${frame ? ` | ${frame.replace(/:\d+:\d+/, '')}` : ''}`;
}

/** Runs `report` on every case, `concurrency` at a time; returns per-case results. */
export async function runReportCases(cases, { concurrency = 4, dir, onResult } = {}) {
  const results = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const idx = next++;
      const c = cases[idx];
      const file = join(dir, `case-${c.id}.json`);
      writeFileSync(file, c.buf);
      const started = Date.now();
      const r = await execa(process.execPath, [CLI, 'report', file, '--format', c.format], {
        reject: false, stdin: 'ignore', timeout: CASE_TIMEOUT_MS, killSignal: 'SIGKILL', env: { NO_COLOR: '1', HEAPGAP_DEBUG: '' }, extendEnv: true,
        maxBuffer: 64 * 1024 * 1024,
      });
      const res = {
        id: c.id, seed: c.seed, format: c.format, ops: c.ops, bytes: c.buf.length, ms: Date.now() - started,
        exitCode: r.exitCode ?? null, signal: r.signal ?? null, timedOut: r.timedOut === true,
        stderr: String(r.stderr ?? ''), stdout: String(r.stdout ?? ''),
      };
      res.violations = judgeReport(res);
      res.observations = observeReport(res, c.format);
      res.signature = res.violations.length ? signature(res, res.violations) : null;
      res.file = file;
      results[idx] = res;
      onResult?.(res, c);
      delete res.stdout;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return results;
}

// ---- direct parser fuzz ----------------------------------------------------------------------------

export async function loadParsers(dist = join(dirname(CLI), '..')) {
  const imp = (p) => import(pathToFileURL(join(dist, p)).href);
  const [{ parseSmaps }, { parseMallocInfo }, { parseStatus }, { HeapgapError }] = await Promise.all([
    imp('parse/smaps.js'), imp('allocators/glibc/malloc-info.js'), imp('parse/status.js'), imp('errors.js'),
  ]);
  return { parsers: { smaps: parseSmaps, mallocInfo: parseMallocInfo, status: parseStatus }, HeapgapError };
}

/** Soft checks of what a parser returned (numbers finite and non-negative). */
function resultOddities(kind, value) {
  const odd = [];
  const bad = (x) => typeof x === 'number' && (!Number.isFinite(x) || x < 0);
  if (kind === 'smaps') {
    for (const vma of value) {
      // Whatever numeric fields the parser's Vma has (the shape may change), including nested maps.
      const nums = Object.values(vma ?? {}).flatMap((v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.values(v) : [v]));
      if (nums.some(bad)) {
        odd.push('smaps: a VMA size field is not a finite non-negative number');
        break;
      }
    }
  } else if (kind === 'status') {
    for (const k of ['tgid', 'tracerPid', 'threads', 'uid', 'seccomp']) if (typeof value[k] === 'number' && !Number.isFinite(value[k])) odd.push(`status: ${k} is ${value[k]}`);
    if (typeof value.vmRss === 'number' && !Number.isFinite(value.vmRss)) odd.push('status: vmRss is NaN');
    if (value.tgid < 0 || value.threads < 0 || value.tracerPid < 0) odd.push('status: negative tgid/threads/tracerPid accepted');
  }
  return odd;
}

/**
 * Feeds n mutated texts to each parser. A throw must be HeapgapError BAD_INPUT; anything else is a
 * violation. Returns counts, violations grouped by signature (with one reproducer each) and oddities.
 */
export function fuzzParsers({ parsers, HeapgapError }, raw, { seed, n }) {
  const out = { cases: 0, threw: 0, accepted: 0, maxMs: 0, violations: {}, oddities: {} };
  for (const kind of ['smaps', 'status', 'mallocInfo']) {
    const inputs = raw[kind];
    if (!inputs.length) continue;
    for (let i = 0; i < n; i++) {
      const r = prng(seed).fork(1_000_000 + i + (kind === 'smaps' ? 0 : kind === 'status' ? 2_000_000 : 4_000_000));
      const m = mutateText(r.pick(inputs), r, kind);
      const t0 = performance.now();
      let err = null;
      let value;
      try {
        value = parsers[kind](m.text, `fuzz-${kind}`);
      } catch (e) {
        err = e;
      }
      const ms = performance.now() - t0;
      out.cases++;
      out.maxMs = Math.max(out.maxMs, ms);
      const add = (bucket, sig, extra) => {
        const b = (bucket[sig] ??= { count: 0, example: null });
        b.count++;
        if (!b.example) b.example = { kind, case: i, ops: m.ops, input: m.text.length > 4000 ? `${m.text.slice(0, 4000)}…(${m.text.length} chars)` : m.text, ...extra };
      };
      if (ms > 2000) add(out.violations, `${kind}: took ${Math.round(ms)} ms`, {});
      if (err) {
        out.threw++;
        if (!(err instanceof HeapgapError) || err.code !== 'BAD_INPUT') {
          const frame = /\n\s+at (.*)/.exec(err?.stack ?? '')?.[1]?.replace(/\(.*\/(dist|node_modules)\//, '($1/') ?? '';
          add(out.violations, `${kind}: threw ${err?.name ?? typeof err}${err?.code ? ` ${err.code}` : ''}: ${String(err?.message ?? err).replace(/\d+/g, 'N').slice(0, 120)} @ ${frame}`, { stack: String(err?.stack ?? '').split('\n').slice(0, 6).join('\n') });
        }
      } else {
        out.accepted++;
        let odd;
        try {
          odd = resultOddities(kind, value);
        } catch (e) {
          odd = [`(could not inspect the ${kind} result: ${e?.message ?? e})`];
        }
        for (const o of odd) add(out.oddities, o, {});
      }
    }
  }
  return out;
}

// ---- live capture --------------------------------------------------------------------------------

async function liveCapture(work) {
  const bin = join(work, 'churn');
  const g = await execa('gcc', ['-O1', '-g0', '-pthread', '-Wall', '-o', bin, join(ROOT, 'fixtures', 'targets', 'churn.c')], { reject: false, stdin: 'ignore' });
  if (g.exitCode !== 0) throw new Error(`gcc: ${g.stderr}`);
  const target = execa(bin, ['4'], { stdin: 'ignore', buffer: false, reject: false, cleanup: true });
  try {
    await new Promise((res, rej) => {
      let buf = '';
      target.stdout.setEncoding('utf8');
      target.stdout.on('data', (d) => {
        buf += d;
        if (buf.includes('\n')) res();
      });
      target.then(() => rej(new Error('churn exited early')));
      setTimeout(() => rej(new Error('churn: no ready line')), 20_000);
    });
    target.stdout.resume();
    const file = join(work, 'live-capture.json');
    const r = await execa(process.execPath, [CLI, 'capture', String(target.pid), '-o', file], { reject: false, stdin: 'ignore', timeout: 60_000 });
    if (r.exitCode !== 0) throw new Error(`capture failed (exit ${r.exitCode}): ${r.stderr}`);
    return file;
  } finally {
    target.kill('SIGTERM');
    await target;
  }
}

// ---- main ----------------------------------------------------------------------------------------

function parseArgs(argv) {
  const o = { seed: 1, cases: 600, direct: 5000, concurrency: Math.min(4, Math.max(2, availableParallelism())), live: null, keep: null, out: null, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const int = () => {
      const v = argv[++i];
      if (!/^\d+$/.test(v ?? '')) die(`${a}: expected a non-negative integer`);
      return Number(v);
    };
    if (a === '--seed') o.seed = int();
    else if (a === '--cases') o.cases = int();
    else if (a === '--direct') o.direct = int();
    else if (a === '--concurrency') o.concurrency = Math.max(1, int());
    else if (a === '--live') o.live = true;
    else if (a === '--no-live') o.live = false;
    else if (a === '--keep') o.keep = argv[++i] ?? die('--keep needs a directory');
    else if (a === '--out') o.out = argv[++i] ?? die('--out needs a file');
    else if (a === '--verbose' || a === '-v') o.verbose = true;
    else if (a === '--cli') o.cli = resolve(argv[++i] ?? die('--cli needs a path'));
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: node scripts/fuzz.mjs [--seed N] [--cases N] [--direct N] [--concurrency N] [--live|--no-live] [--keep DIR] [--out FILE] [--cli PATH] [--verbose]\n');
      process.exit(0);
    } else die(`unknown argument ${a}`);
  }
  return o;
}

function die(msg) {
  process.stderr.write(`fuzz: ${msg}\n`);
  process.exit(2);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.cli) CLI = o.cli;
  if (!existsSync(CLI)) die(`${CLI} not found: build first (npx tsc -p tsconfig.json)`);
  const work = mkdtempSync(join(tmpdir(), 'heapgap-fuzz-'));
  const t0 = Date.now();
  try {
    const live = [];
    const canLive = o.live !== false && (await execa('gdb', ['--version'], { reject: false })).exitCode === 0;
    if (canLive) {
      try {
        live.push(await liveCapture(work));
        process.stderr.write('fuzz: live capture of the churn target added to the seeds\n');
      } catch (e) {
        if (o.live === true) throw e;
        process.stderr.write(`fuzz: no live capture (${e.message}); fixtures only\n`);
      }
    }
    const seeds = loadSeeds({ liveCaptures: live });
    process.stderr.write(`fuzz: seed ${o.seed}, ${seeds.length} seed documents, ${o.cases} report cases, ${o.direct} direct cases per parser\n`);

    // 1. report
    const caseDir = join(work, 'cases');
    mkdirSync(caseDir);
    const cases = Array.from({ length: o.cases }, (_, i) => makeCase(seeds, o.seed, i));
    let done = 0;
    const results = await runReportCases(cases, {
      concurrency: o.concurrency, dir: caseDir,
      onResult: (res) => {
        done++;
        if (res.violations.length || o.verbose) process.stderr.write(`${res.violations.length ? '!!' : '  '} case ${res.id} [${res.seed} ${res.format} ${res.ops.join(' ')}] exit ${res.exitCode} ${res.ms} ms ${res.violations.join('; ')}\n`);
        if (done % 100 === 0) process.stderr.write(`fuzz: ${done}/${cases.length} report cases\n`);
      },
    });
    const byExit = {};
    const groups = {};
    const observations = {};
    for (const r of results) {
      const k = r.timedOut ? 'timeout' : String(r.exitCode ?? r.signal);
      byExit[k] = (byExit[k] ?? 0) + 1;
      for (const ob of r.observations) {
        const e = (observations[ob] ??= { count: 0, cases: [] });
        e.count++;
        if (e.cases.length < 5) e.cases.push(`${r.id} [${r.seed} ${r.format} ${r.ops.join(' ')}]`);
      }
      if (!r.signature) continue;
      const g = (groups[r.signature] ??= { count: 0, cases: [], example: null });
      g.count++;
      if (g.cases.length < 10) g.cases.push(r.id);
      if (!g.example) g.example = { id: r.id, seed: r.seed, format: r.format, ops: r.ops, exitCode: r.exitCode, stderr: r.stderr.slice(0, 2000), file: r.file };
    }
    const keepDir = o.keep ?? (Object.keys(groups).length ? mkdtempSync(join(tmpdir(), 'heapgap-fuzz-failures-')) : null);
    if (keepDir) {
      mkdirSync(keepDir, { recursive: true });
      for (const g of Object.values(groups)) {
        const dest = join(keepDir, `case-${g.example.id}.json`);
        writeFileSync(dest, readFileSync(g.example.file));
        g.example.file = dest;
        g.example.reproduce = `node dist/cli/main.js report ${dest} --format ${g.example.format}`;
      }
    }
    const ms = results.map((r) => r.ms).sort((a, b) => a - b);

    // 2. direct
    const direct = fuzzParsers(await loadParsers(), rawSeeds(seeds), { seed: o.seed, n: o.direct });

    const summary = {
      schema: 'heapgap.fuzz/1',
      seed: o.seed,
      seeds: seeds.map((s) => s.name),
      wallSeconds: Math.round((Date.now() - t0) / 1000),
      report: {
        cases: results.length, byExit, failedCases: results.filter((r) => r.violations.length).length,
        msMedian: ms[Math.floor(ms.length / 2)] ?? null, msMax: ms[ms.length - 1] ?? null,
        violations: groups, observations,
      },
      direct,
    };
    process.stdout.write(`\nheapgap fuzz (seed ${o.seed}): ${results.length} report cases in ${summary.wallSeconds} s\n`);
    process.stdout.write(`  exit codes: ${Object.entries(byExit).map(([k, v]) => `${k}: ${v}`).join(', ')}; median ${summary.report.msMedian} ms, max ${summary.report.msMax} ms\n`);
    process.stdout.write(`  contract violations: ${summary.report.failedCases} cases in ${Object.keys(groups).length} groups\n`);
    for (const [sig, g] of Object.entries(groups)) process.stdout.write(`    ${g.count} x ${sig}\n      e.g. ${g.example.reproduce ?? g.example.file}  [${g.example.seed}: ${g.example.ops.join(' ')}]\n`);
    if (Object.keys(observations).length) process.stdout.write(`  observations (exit 0, not failures): ${Object.entries(observations).map(([k, v]) => `${k}: ${v.count} (e.g. case ${v.cases[0]})`).join(', ')}\n`);
    process.stdout.write(`  direct: ${direct.cases} parser calls, ${direct.threw} threw, ${direct.accepted} accepted, slowest ${direct.maxMs.toFixed(1)} ms\n`);
    process.stdout.write(`  direct violations: ${Object.keys(direct.violations).length} groups\n`);
    for (const [sig, g] of Object.entries(direct.violations)) process.stdout.write(`    ${g.count} x ${sig}\n      e.g. ops ${g.example.ops.join('+')}: ${JSON.stringify(g.example.input.slice(0, 200))}\n`);
    if (Object.keys(direct.oddities).length) process.stdout.write(`  direct oddities (accepted input, odd values): ${Object.entries(direct.oddities).map(([k, v]) => `${k}: ${v.count}`).join(', ')}\n`);
    if (o.out) {
      writeFileSync(o.out, `${JSON.stringify(summary, null, 2)}\n`);
      process.stdout.write(`\nwritten to ${o.out}\n`);
    }
    if (keepDir) process.stdout.write(`reproducers kept in ${keepDir}\n`);
    process.exitCode = summary.report.failedCases || Object.keys(direct.violations).length ? 1 : 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e) => {
    process.stderr.write(`fuzz: ${e?.stack ?? e}\n`);
    process.exit(2);
  });
}

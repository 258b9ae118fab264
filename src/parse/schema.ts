import { HeapgapError, excerpt } from '../errors.js';

/**
 * A tiny declarative checker for documents heapgap reads back (inspect JSON given to `report` and
 * `diff`): every field a reporter touches is checked before anything renders it, and a field added
 * after the contract may be missing (`optional` supplies its default).
 */
export type Spec =
  | 'num' | 'num?' | 'str' | 'str?' | 'bool' | 'bool?' | 'hex' | 'hex?' | 'strmap'
  | readonly string[] // one of these strings
  | { readonly nullableOf: readonly string[] } // one of these strings, or null
  | { readonly list: Spec }
  | { readonly optional: Spec; readonly fallback: unknown }
  | { readonly [field: string]: Spec };

export function check<T>(value: unknown, spec: Spec, source: string, path = ''): T {
  walk(value, spec, source, path || '(document)');
  return value as T;
}

function walk(v: unknown, spec: Spec, src: string, path: string): void {
  if (typeof spec === 'string') return leaf(v, spec, src, path);
  if (Array.isArray(spec)) {
    if (typeof v !== 'string' || !spec.includes(v)) fail(src, path, `one of ${spec.join(', ')}`, v);
    return;
  }
  if ('nullableOf' in spec && Object.keys(spec).length === 1) {
    const options = spec.nullableOf as readonly string[];
    if (v !== null && (typeof v !== 'string' || !options.includes(v))) fail(src, path, `one of ${options.join(', ')}`, v, true);
    return;
  }
  if ('list' in spec && Object.keys(spec).length === 1) {
    if (!Array.isArray(v)) fail(src, path, 'an array', v);
    (v as unknown[]).forEach((item, i) => walk(item, spec.list as Spec, src, `${path}[${i}]`));
    return;
  }
  if ('optional' in spec && 'fallback' in spec) {
    if (v !== undefined) walk(v, spec.optional as Spec, src, path);
    return;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(src, path, 'an object', v);
  const obj = v as Record<string, unknown>;
  for (const [field, sub] of Object.entries(spec as Record<string, Spec>)) {
    if (obj[field] === undefined && typeof sub === 'object' && 'optional' in sub) obj[field] = structuredClone(sub.fallback);
    else walk(obj[field], sub, src, path === '(document)' ? field : `${path}.${field}`);
  }
}

function leaf(v: unknown, kind: string, src: string, path: string): void {
  const nullable = kind.endsWith('?');
  if (nullable && v === null) return;
  const base = nullable ? kind.slice(0, -1) : kind;
  const ok =
    base === 'num' ? typeof v === 'number' && Number.isFinite(v) :
    base === 'str' ? typeof v === 'string' :
    base === 'bool' ? typeof v === 'boolean' :
    base === 'hex' ? typeof v === 'string' && /^0x[0-9a-f]{1,16}$/.test(v) :
    base === 'strmap' ? typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string') :
    false;
  if (!ok) fail(src, path, { num: 'a number', str: 'a string', bool: 'true or false', hex: 'a hex address like 0x7f00', strmap: 'an object of strings' }[base] ?? base, v, nullable);
}

export function fail(src: string, field: string, expected: string, got: unknown, nullable = false): never {
  throw new HeapgapError('BAD_INPUT', `${src}: ${field}: expected ${expected}${nullable ? ' or null' : ''}, got ${describe(got)}`);
}

/** What a bad value is, without serialising it (it may be huge or nested beyond the stack). */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${excerpt(String(v), 40)}`;
}

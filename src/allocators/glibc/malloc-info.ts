import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { CountSize, MallocInfo, MallocInfoHeap, SizeRow } from '../../types.js';
import { HeapgapError, excerpt } from '../../errors.js';

type Attrs = Record<string, unknown>;
interface XmlHeap {
  '@nr'?: string;
  sizes?: { size?: Attrs[]; unsorted?: Attrs[] } | string;
  total?: Attrs[];
  system?: Attrs[];
  aspace?: Attrs[];
}
interface XmlMalloc {
  '@version'?: string;
  heap?: XmlHeap[];
  total?: Attrs[];
  system?: Attrs[];
}

const parser = new XMLParser({
  ignoreAttributes: false,
  // Attributes get their own prefix: `size` and `heap` are names of both attributes and elements.
  attributeNamePrefix: '@',
  parseAttributeValue: false,
  parseTagValue: false,
  isArray: (name, _path, _leaf, isAttribute) => !isAttribute && ['heap', 'size', 'unsorted', 'total', 'system', 'aspace'].includes(name),
});

/**
 * Parses the XML glibc's malloc_info(0, fp) prints, in every variant seen from 2.17 to master:
 * the format is told by which elements are present, never by a version number.
 */
export function parseMallocInfo(xml: string, source = 'malloc_info'): MallocInfo {
  if (last !== null && last.xml === xml) return last.info;
  const info = parse(xml, source);
  last = { xml, info };
  return info;
}

/**
 * The last document parsed, and what it gave: inspect parses the same malloc_info output after
 * detach (measure.ts) and again in its analysis, and the parse (fast-xml-parser's validation and
 * tree, and their garbage) was the largest part of inspect's work after gdb. Callers only read
 * the result, so the two share it. (`source` only words errors, and errors are not kept.)
 */
let last: { xml: string; info: MallocInfo } | null = null;

function parse(xml: string, source: string): MallocInfo {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new HeapgapError('BAD_INPUT', `${source}: not well-formed XML at line ${valid.err.line}: ${valid.err.msg}`);
  }
  let doc: { malloc?: XmlMalloc | string };
  try {
    doc = parser.parse(xml) as typeof doc;
  } catch (cause) {
    // fast-xml-parser refuses deep nesting and names like __proto__ with plain Errors.
    throw new HeapgapError('BAD_INPUT', `${source}: unusable XML: ${(cause as Error).message}`, { cause });
  }
  const root = doc.malloc;
  if (root === undefined || typeof root !== 'object') {
    throw new HeapgapError('BAD_INPUT', `${source}: expected a <malloc version="1"> root element, got ${excerpt(xml)}`);
  }
  const heaps = elements(root, 'heap').map((h, i) => parseHeap(h as XmlHeap, `${source} heap #${i}`));
  if (heaps.length === 0) throw new HeapgapError('BAD_INPUT', `${source}: expected at least one <heap nr="0">, found none`);
  heaps.forEach((h, i) => {
    if (h.nr !== i) throw new HeapgapError('BAD_INPUT', `${source}: expected heap nr="${i}", got nr="${h.nr}"`);
  });
  return {
    version: typeof root['@version'] === 'string' ? root['@version'] : '',
    heaps,
    totalFast: typed(root.total, 'fast', source),
    totalRest: typed(root.total, 'rest', source),
    totalMmap: typed(root.total, 'mmap', source),
    systemCurrent: num(pick(root.system, 'current')?.['@size'], `${source} <system type="current">`),
    systemMax: num(pick(root.system, 'max')?.['@size'], `${source} <system type="max">`),
  };
}

function parseHeap(h: XmlHeap, where: string): MallocInfoHeap {
  const sizes = h.sizes;
  const rows: SizeRow[] = [
    ...elements(sizes, 'size').map((a) => row('size', a, where)),
    ...elements(sizes, 'unsorted').map((a) => row('unsorted', a, where)),
  ];
  const aspaceTotal = pick(h.aspace, 'total');
  const aspaceMprotect = pick(h.aspace, 'mprotect');
  const subheaps = pick(h.aspace, 'subheaps');
  return {
    nr: num(h['@nr'], `${where} nr`),
    rows,
    fast: typed(h.total, 'fast', where),
    rest: typed(h.total, 'rest', where),
    systemCurrent: num(pick(h.system, 'current')?.['@size'], `${where} <system type="current">`),
    systemMax: num(pick(h.system, 'max')?.['@size'], `${where} <system type="max">`),
    aspaceTotal: aspaceTotal ? num(aspaceTotal['@size'], `${where} <aspace type="total">`) : null,
    aspaceMprotect: aspaceMprotect ? num(aspaceMprotect['@size'], `${where} <aspace type="mprotect">`) : null,
    subheaps: subheaps ? num(subheaps['@size'], `${where} <aspace type="subheaps">`) : null,
  };
}

function row(kind: SizeRow['kind'], a: Attrs, where: string): SizeRow {
  return {
    kind,
    from: num(a['@from'], `${where} <${kind}> from`),
    to: num(a['@to'], `${where} <${kind}> to`),
    total: num(a['@total'], `${where} <${kind}> total`),
    count: num(a['@count'], `${where} <${kind}> count`),
  };
}

function pick(list: unknown, type: string): Attrs | undefined {
  return Array.isArray(list) ? (list as Attrs[]).find((a) => typeof a === 'object' && a !== null && a['@type'] === type) : undefined;
}

/** The element list under `name`, or [] when the document has something else there. */
function elements(parent: unknown, name: string): Attrs[] {
  const v = typeof parent === 'object' && parent !== null ? (parent as Record<string, unknown>)[name] : undefined;
  return Array.isArray(v) ? (v as Attrs[]).filter((x) => typeof x === 'object' && x !== null) : [];
}

function typed(list: unknown, type: string, where: string): CountSize | null {
  const a = pick(list, type);
  if (!a) return null;
  return { count: num(a['@count'], `${where} <total type="${type}"> count`), size: num(a['@size'], `${where} <total type="${type}"> size`) };
}

function num(value: unknown, what: string): number {
  if (typeof value !== 'string' || !/^\d{1,16}$/.test(value)) {
    throw new HeapgapError('BAD_INPUT', `${what}: expected a non-negative integer, got ${value === undefined ? 'nothing' : excerpt(String(value))}`);
  }
  return Number(value);
}

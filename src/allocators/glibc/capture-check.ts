import { check, fail } from '../../parse/schema.js';
import type { Spec } from '../../parse/schema.js';
import type { GlibcCapture } from './types.js';

/** One heap's page map, as inspect JSON and captures carry it. */
export const PAGE_MAP_SPEC: Spec = {
  start: 'hex', end: 'hex', pageSize: 'num', pages: 'num', livePages: 'num', freeResidentPages: 'num', freeReleasedPages: 'num',
  topStart: 'hex?', unitPages: 'num', runs: 'str',
};
export const PINNING_SPEC: Spec = { list: { address: 'hex', size: 'num', freeBelowBytes: 'num' } };

const PARAMS: Spec = {
  address: 'hex', layout: 'str', trimThreshold: 'num', topPad: 'num', mmapThreshold: 'num', arenaTest: 'num', arenaMax: 'num',
  nMmaps: 'num', nMmapsMax: 'num', maxNMmaps: 'num', mmapThresholdDynamic: 'bool', mmappedBytes: 'num', maxMmappedBytes: 'num',
  sbrkBase: 'hex', tcacheCount: 'num?', tcacheMaxBytes: 'num?', confirmedBy: { list: 'str' },
};
const ARENAS: Spec = {
  list: {
    index: 'num', address: 'hex', complete: 'bool', problem: 'str?', attempts: 'num', liveChunks: 'num', liveBytes: 'num',
    freeChunks: 'num', freeBytes: 'num', topBytes: 'num', pinning: PINNING_SPEC, pinningChunks: 'num', pinningBytes: 'num',
    pinnedFreeBytes: 'num', pinnedResidentBytes: 'num', trimmableBytes: 'num', trimmableChunks: 'num', heaps: { list: PAGE_MAP_SPEC },
  },
};

/** The glibc section's `internals` (absent in older captures): every field the analysis reads. */
export function checkGlibcCapture(v: unknown, src: string, at: string): GlibcCapture | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(src, at, 'an object', v);
  const o = v as Record<string, unknown>;
  if (o.params !== null) check(o.params, PARAMS, src, `${at}.params`);
  if (o.paramsNote !== null && typeof o.paramsNote !== 'string') fail(src, `${at}.paramsNote`, 'a string', o.paramsNote, true);
  check(o.arenas, ARENAS, src, `${at}.arenas`);
  return o as unknown as GlibcCapture;
}

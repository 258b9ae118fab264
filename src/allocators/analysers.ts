/** Analysis side of every allocator (pure; see types.ts for the seam). */
import type { Sections } from '../snapshot.js';
import { glibcAnalyser } from './glibc/analyse.js';
import { jemallocAnalyser } from './jemalloc/index.js';
import { mimallocAnalyser } from './mimalloc/index.js';
import { muslAnalyser } from './musl/index.js';
import { tcmallocAnalyser } from './tcmalloc/index.js';
import type { Analyser } from './types.js';

export const ANALYSERS: { [K in keyof Sections]-?: Analyser<NonNullable<Sections[K]>> } = {
  glibc: glibcAnalyser,
  jemalloc: jemallocAnalyser,
  tcmalloc: tcmallocAnalyser,
  mimalloc: mimallocAnalyser,
  musl: muslAnalyser,
};

/** Analysis side of every allocator (pure; see types.ts for the seam). */
import type { Sections } from '../snapshot.js';
import { glibcAnalyser } from './glibc/analyse.js';
import type { Analyser } from './types.js';

export const ANALYSERS: { [K in keyof Sections]-?: Analyser<NonNullable<Sections[K]>> } = {
  glibc: glibcAnalyser,
};

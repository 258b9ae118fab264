/** jemalloc: collector (mallctl in the stop) and analyser, for the registries. */
import { otherInput, presenceOf } from '../common.js';
import type { Analyser, Collector } from '../types.js';
import { analyseJemalloc } from './analyse.js';
import { prepareJemalloc } from './prepare.js';
import { jemallocSection } from './section.js';
import type { JemallocSection } from './section.js';

export const jemallocCollector: Collector<JemallocSection> = {
  name: 'jemalloc',
  async prepare(t) {
    const { p, opened } = presenceOf(t, 'jemalloc');
    return {
      plan: await prepareJemalloc(t.pid, p, opened),
      notes: [],
      measure: async (raw) => jemallocSection(raw, { object: p.object.path, prefix: p.prefix }),
    };
  },
};

export const jemallocAnalyser: Analyser<JemallocSection> = {
  name: 'jemalloc',
  analyse: (section, input) => analyseJemalloc(section, otherInput(input)),
};

/** musl: no collector (nothing to call), an analyser of what smaps alone says. */
import { otherInput } from '../common.js';
import type { Analyser } from '../types.js';
import { analyseMusl } from './analyse.js';
import type { MuslSection } from './analyse.js';

export const muslAnalyser: Analyser<MuslSection> = {
  name: 'musl',
  analyse: (_section, input) => analyseMusl(input.vmas, otherInput(input)),
};

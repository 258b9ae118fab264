// Reads the real captures in fixtures/<name>/ (see each README for how they were made).
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

/** Capture directories holding smaps + malloc-info.xml. */
export const CAPTURES = readdirSync(FIXTURES).filter((d) => existsSync(join(FIXTURES, d, 'malloc-info.xml')));

export function fixture(name: string, file: string): string {
  return readFileSync(join(FIXTURES, name, file), 'latin1');
}

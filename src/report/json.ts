import type { AnyDocument } from '../types.js';

export function renderJson(doc: AnyDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

import type { AnyReport } from '../types.js';

export function renderJson(doc: AnyReport): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

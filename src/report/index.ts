import type { Format } from '../contract.js';
import type { AnyReport } from '../types.js';
import type { Style } from './style.js';

export type Reporter = (doc: AnyReport, style: Style) => string;

/**
 * Every output format; the CLI's --format choices are this object's keys. Each reporter is loaded
 * only when asked for, so `heapgap --version` and a text inspect do not pay for html and markdown.
 */
const LOADERS = {
  text: async () => (await import('./text.js')).renderText,
  json: async () => (await import('./json.js')).renderJson,
  markdown: async () => (await import('./markdown.js')).renderMarkdown,
  html: async () => (await import('./html.js')).renderHtml,
  openmetrics: async () => (await import('./openmetrics.js')).renderOpenMetrics,
} satisfies Record<Format, () => Promise<Reporter>>;

export { FORMATS } from '../contract.js';
export type { Format } from '../contract.js';
export const loadReporter = (format: Format): Promise<Reporter> => LOADERS[format]();

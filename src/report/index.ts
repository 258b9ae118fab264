import type { Format } from '../contract.js';
import type { AnyDocument, AnyReport, TopReport } from '../types.js';
import type { Style } from './style.js';

export type Reporter = (doc: AnyDocument, style: Style) => string;

/** `heapgap top`'s document has its own renderer per format (src/report/top/). */
const route = (inner: (d: AnyReport, s: Style) => string, top: (d: TopReport, s: Style) => string): Reporter =>
  (doc, style) => (doc.schema === 'heapgap.top/1' ? top(doc, style) : inner(doc, style));

/**
 * Every output format; the CLI's --format choices are this object's keys. Each reporter is loaded
 * only when asked for, so `heapgap --version` and a text inspect do not pay for html and markdown.
 */
const LOADERS = {
  text: async () => route((await import('./text.js')).renderText, (await import('./top/text.js')).renderTopText),
  json: async () => (await import('./json.js')).renderJson,
  markdown: async () => route((await import('./markdown.js')).renderMarkdown, (await import('./top/markdown.js')).renderTopMarkdown),
  html: async () => route((await import('./html.js')).renderHtml, (await import('./top/html.js')).renderTopHtml),
  openmetrics: async () => route((await import('./openmetrics.js')).renderOpenMetrics, (await import('./top/openmetrics.js')).renderTopOpenMetrics),
} satisfies Record<Format, () => Promise<Reporter>>;

export { FORMATS } from '../contract.js';
export type { Format } from '../contract.js';
export const loadReporter = (format: Format): Promise<Reporter> => LOADERS[format]();

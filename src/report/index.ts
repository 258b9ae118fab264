import type { AnyReport } from '../types.js';
import { renderHtml } from './html.js';
import { renderJson } from './json.js';
import { renderMarkdown } from './markdown.js';
import { renderOpenMetrics } from './openmetrics.js';
import { renderText } from './text.js';
import type { Style } from './style.js';

export type Reporter = (doc: AnyReport, style: Style) => string;

/** Every output format; the CLI's --format choices are this object's keys. */
export const REPORTERS = {
  text: renderText,
  json: renderJson,
  markdown: renderMarkdown,
  html: renderHtml,
  openmetrics: renderOpenMetrics,
} satisfies Record<string, Reporter>;

export type Format = keyof typeof REPORTERS;
export const FORMATS = Object.keys(REPORTERS) as Format[];

/** Colour for the terminal only: on a TTY, never with NO_COLOR or --no-color. */
export interface Style {
  color: boolean;
}

const CODES = { bold: '1', dim: '2', info: '36', warn: '33', critical: '31' } as const;

export function paint(style: Style, kind: keyof typeof CODES, text: string): string {
  return style.color ? `\u001b[${CODES[kind]}m${text}\u001b[0m` : text;
}

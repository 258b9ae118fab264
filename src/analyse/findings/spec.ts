/** The shape of one finding kind's entry in the registry (index.ts). */
export interface FindingSpec<D> {
  title: string;
  message(d: D): string;
  hint(d: D): string;
  /** What the finding is about, for diff (e.g. which arenas); absent: one per report. */
  subject?(d: D): string;
}

/** Declares a finding kind with its data type: `kind<{ bytes: number }>()({ title, message, hint })`. */
export const kind = <D>() => <S extends FindingSpec<D>>(s: S): S & { __data?: D } => s;


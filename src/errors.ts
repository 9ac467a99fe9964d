// One error type for the whole project: a code that maps to the exit code, the place it happened,
// what was found and what to do. Only cli/ prints errors and exits.

export const EXIT_CODES = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  spec: 2,
  contract: 3,
  quality: 4,
  lock: 5,
  /** The run itself succeeded (the load stays) but its notification could not be delivered. */
  notify: 6,
} as const;

export type ErrorCode = Exclude<keyof typeof EXIT_CODES, 'ok'>;

export interface ErrorPlace {
  /** A file on disk (spec, source data, partition). */
  file?: string;
  /** A path inside the spec, such as `views.user_txn.features.avg_7d.window`. */
  specPath?: string;
  /** 1-based line and column in `file`, when known. */
  line?: number;
  column?: number;
  /** A data column. */
  dataColumn?: string;
}

export class AsofError extends Error {
  readonly code: ErrorCode;
  readonly place: ErrorPlace;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, place: ErrorPlace = {}, hint?: string) {
    super(message);
    this.name = 'AsofError';
    this.code = code;
    this.place = place;
    this.hint = hint;
  }

  get exitCode(): number {
    return EXIT_CODES[this.code];
  }

  /** One readable paragraph: where, what, and what to do. */
  describe(): string {
    const where: string[] = [];
    if (this.place.file) {
      let f = this.place.file;
      if (this.place.line !== undefined) f += `:${this.place.line}`;
      if (this.place.column !== undefined) f += `:${this.place.column}`;
      where.push(f);
    }
    if (this.place.specPath) where.push(this.place.specPath);
    if (this.place.dataColumn) where.push(`column ${this.place.dataColumn}`);
    const head = where.length > 0 ? `${where.join(': ')}: ` : '';
    return `${head}${this.message}${this.hint ? `\n  hint: ${this.hint}` : ''}`;
  }
}

export function isAsofError(e: unknown): e is AsofError {
  return e instanceof AsofError;
}

/**
 * A full disk, as Node (ENOSPC, EDQUOT) or DuckDB ("No space left on device") reports it, turned
 * into an AsofError naming the file; undefined for any other error. Writers are atomic (staging,
 * then rename), so what was published before stays as it was.
 */
export function diskFullError(e: unknown): AsofError | undefined {
  if (!(e instanceof Error)) return undefined;
  const code = (e as NodeJS.ErrnoException).code;
  if (
    code !== 'ENOSPC' &&
    code !== 'EDQUOT' &&
    !/no space left on device|disk quota exceeded/i.test(e.message)
  ) {
    return undefined;
  }
  const file = (e as NodeJS.ErrnoException).path ?? /"([^"]+)"/.exec(e.message)?.[1];
  return new AsofError(
    'unexpected',
    'no space left on device',
    file ? { file } : {},
    'free space there (or point storage.offline elsewhere) and rerun; what was published before is unchanged',
  );
}

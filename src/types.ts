// The value types a source contract can declare; shared by spec, expr, aggregate and engines.

export const COLUMN_TYPES = ['string', 'int', 'double', 'bool', 'timestamp', 'date'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

/** Name -> type of every column a source contract declares, in declared order. */
export type Columns = Record<string, ColumnType>;

// What reading a source against its contract found, beyond the typed rows: schema differences
// that were accepted (new columns, widenings), the file schemas seen, and the quarantined rows.

/** The columns and physical types of one file, as the engine read them. */
export interface FileSchema {
  file: string;
  columns: { name: string; type: string }[];
}

/** A difference between a file and the contract that the contract accepts. */
export interface SchemaNotice {
  kind: 'new_column' | 'widening';
  column: string;
  /** The contract type (widening) or undefined (new column). */
  expected: string | undefined;
  found: string;
  file: string;
}

export interface ContractReport {
  /** Rows read from the files, before rejects and deduplication. */
  rowsIn: number;
  /** Rows that broke the contract and went to quarantine (only when under max_reject_rate). */
  rejected: number;
  /** Rejected rows per reason (the column and what was wrong). */
  rejectReasons: Record<string, number>;
  /** Where the rejected rows were written, when any were and a file was given. */
  quarantineFile: string | undefined;
  notices: SchemaNotice[];
  schemas: FileSchema[];
}

/** Options of one source load. */
export interface LoadOptions {
  /** Where rows that break the contract are written (CSV with file, row and reason). */
  quarantineFile?: string;
}

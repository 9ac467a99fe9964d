// The starter project written by `asof init`: a commented spec and a few rows to build from.

export const STARTER_SPEC = `# asof project: declare sources, entities and feature views once; build them as of any date.
# Reference: the README's "Spec reference" section. Run: asof validate, then asof build --as-of 2025-01-10.
project: my_features
# Days are calendar days in this timezone; timestamps without an offset are local to it.
timezone: UTC
storage:
  offline: .asof/lake            # partitions land in <offline>/<view>/v<version>/as_of_date=YYYY-MM-DD/

sources:
  transactions:
    path: data/transactions.csv  # a file or a glob; csv, json, jsonl or parquet
    timestamp: event_ts          # the event-time column
    # The contract: every column asof reads, with its type (string, int, double, bool, timestamp, date).
    columns:
      user_id: string
      event_ts: timestamp
      amount: double
      status: string

entities:
  user:
    key: user_id                 # a column, or a list of columns

views:
  user_spend:
    entity: user
    source: transactions
    version: 1                   # the feature_version; bump it to rebuild beside the old partitions
    cutoff: end_of_day           # as_of_date D sees events before D+1 00:00 (start_of_day: before D 00:00)
    where: "status = 'success'"  # optional filter, in asof's expression language
    features:
      avg_amount_7d: { agg: avg, column: amount, window: 7d, description: Average successful payment over 7 days }
      purchases_30d: { agg: count, window: 30d, description: Successful payments in the last 30 days }
      max_amount_all: { agg: max, column: amount, window: all }
      days_since_purchase: { agg: days_since_last, window: all }
`;

export const SAMPLE_TRANSACTIONS_CSV = `user_id,event_ts,amount,status
u1,2025-01-02T09:15:00,42.50,success
u1,2025-01-05T10:00:00,10,success
u1,2025-01-07T09:00:00,30,success
u1,2025-01-09T15:00:00,20,failed
u2,2025-01-03T12:00:00,5,success
u2,2025-01-08T08:00:00,15,success
u3,2025-01-10T23:30:00,99.90,success
u3,2025-01-11T00:05:00,12,success
`;

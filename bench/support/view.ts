// The benchmark view shared by the backfill, Spark and streaming benchmarks (the five
// features over transactions), so all three measure the same definition.

export const BENCH_VIEW = {
  entity: 'user',
  source: 'transactions',
  version: 1,
  cutoff: 'end_of_day',
  where: "status = 'success'",
  features: {
    avg_amount_7d: { agg: 'avg', column: 'amount', window: '7d' },
    purchases_30d: { agg: 'count', window: '30d' },
    sum_amount_30d: { agg: 'sum', column: 'amount', window: '30d' },
    max_amount_7d: { agg: 'max', column: 'amount', window: '7d' },
    active_24h: { agg: 'exists', window: '24h' },
  },
};

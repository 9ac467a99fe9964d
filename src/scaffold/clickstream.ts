// The mission's ELT example shipped by `asof demo`: raw clickstream JSON -> refined.clicks (parsed,
// typed, deduplicated) -> refined.sessions (30-minute inactivity gap) -> features.user_active_24h.
// The ELT tests run these same models (test/support/clickstream.ts): one copy.

/** models/<path> -> its SQL text, in dependency order. */
export const CLICKSTREAM_MODELS: Readonly<Record<string, string>> = {
  'refined/clicks.sql': `-- materialization: table
-- description: clicks parsed from the raw JSON, typed, deduplicated by event_id (the latest load wins)
-- tests:
--   - not_null: [event_id, user_id, ts]
--   - unique: event_id
--   - accepted_values: { column: kind, values: [click, view] }
SELECT event_id, user_id, ts, page, kind
FROM (
  SELECT event_id, user_id, ts, page, json_text(_json, 'kind') AS kind,
         row_number() OVER (PARTITION BY event_id ORDER BY _loaded_at DESC, _row DESC) AS rn
  FROM raw.clickstream
  WHERE event_id IS NOT NULL AND ts IS NOT NULL
) latest
WHERE rn = 1
`,
  'refined/sessions.sql': `-- materialization: table
-- description: clicks sessionized per user; a gap of more than 30 minutes starts a new session
-- tests:
--   - unique: [user_id, session_no]
--   - sql: SELECT * FROM ref('refined.sessions') WHERE session_end < session_start
WITH ordered AS (
  SELECT user_id, event_id, ts,
         lag(ts) OVER (PARTITION BY user_id ORDER BY ts, event_id) AS prev_ts
  FROM ref('refined.clicks')
), flagged AS (
  SELECT user_id, event_id, ts,
         CASE WHEN prev_ts IS NULL OR ts - prev_ts > INTERVAL '30 minutes' THEN 1 ELSE 0 END AS is_new
  FROM ordered
), numbered AS (
  SELECT user_id, ts,
         sum(is_new) OVER (PARTITION BY user_id ORDER BY ts, event_id ROWS UNBOUNDED PRECEDING) AS session_no
  FROM flagged
)
SELECT user_id, CAST(session_no AS BIGINT) AS session_no, min(ts) AS session_start,
       max(ts) AS session_end, CAST(count(*) AS BIGINT) AS clicks
FROM numbered
GROUP BY user_id, session_no
`,
  'features/user_active_24h.sql': `-- materialization: incremental
-- date_column: as_of_date
-- description: users with a session in the 24 hours before the end of each day
-- tests:
--   - not_null: user_id
--   - unique: [user_id, as_of_date]
WITH active AS (
  -- Only clicks before :end count: a session still running at the end of the day is known to
  -- exist (it has a click inside the window), but its later clicks are the future.
  SELECT user_id, CAST(count(*) AS BIGINT) AS sessions_24h
  FROM ref('refined.sessions')
  WHERE session_start < :end AND session_end >= :end - INTERVAL '24 hours'
  GROUP BY user_id
), clicked AS (
  SELECT user_id, CAST(count(*) AS BIGINT) AS clicks_24h
  FROM ref('refined.clicks')
  WHERE ts >= :end - INTERVAL '24 hours' AND ts < :end
  GROUP BY user_id
)
SELECT a.user_id, :as_of_date AS as_of_date, a.sessions_24h, coalesce(c.clicks_24h, 0) AS clicks_24h
FROM active a LEFT JOIN clicked c ON c.user_id = a.user_id
`,
};

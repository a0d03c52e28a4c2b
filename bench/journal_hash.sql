-- The journal's chain hash (contract section 11) in SQL, for the rows the benchmark writes
-- without the API (the spread accounts' opening deposits, pgbench's postings): the lowercase
-- hex SHA-256 of prev|entry_id|account_number|transaction_id|amount|balance_after|posted_at,
-- amounts with two decimals and a "-" only when negative, posted_at as the API writes it
-- (UTC, "Z", six fraction digits left out when they are all zero). `bank-api verify` checks
-- every chain after the loads, so a difference from bank_domain.journal shows there.
CREATE FUNCTION bench_entry_hash(
    prev text, entry_id bigint, account_number text, transaction_id text,
    amount_cents bigint, balance_after_cents bigint, posted_at timestamptz
) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT encode(sha256(convert_to(concat_ws('|', prev, entry_id::text, account_number,
      transaction_id, (amount_cents::numeric / 100)::numeric(20, 2)::text,
      (balance_after_cents::numeric / 100)::numeric(20, 2)::text,
      to_char(posted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN date_part('microseconds', posted_at)::bigint % 1000000 = 0 THEN ''
                ELSE to_char(posted_at AT TIME ZONE 'UTC', '.US') END
        || 'Z'), 'UTF8')), 'hex')
$$;

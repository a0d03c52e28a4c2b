-- One posting, the work POST /v1/transactions does in PostgreSQL: lock the account's row,
-- check funds, move the balance, store the transaction, its event (the audit trail's outbox
-- row, with the transaction as JSON, about as long as the API's) and its journal entry
-- (chained to the account's last by SHA-256: bench_entry_hash, made at setup), keep the
-- journal's new head on the account's row, commit.
-- Set with -D: lo, hi (account numbers to pick from), run (a number per phase), description.
\set acct random(:lo, :hi)
\set cents random(1, 10000)
\set withdrawal random(0, 1)
\set nonce random(0, 9000000000000000000)
BEGIN;
SELECT balance_cents, journal_entry_id, journal_hash,
    greatest(now(), coalesce(journal_posted_at, now())) AS posted_at
  FROM accounts WHERE account_number = :acct FOR UPDATE \gset
\set after :balance_cents + :cents * (1 - 2 * :withdrawal)
\if :after >= 0
INSERT INTO transactions (transaction_id, account_number, amount_cents, transaction_type,
    description, status, "timestamp", updated_at, balance_after_cents, version)
  VALUES ('pgb' || :run || '-' || :client_id || '-' || :nonce, :acct, :cents,
    CASE WHEN :withdrawal = 1 THEN 'withdrawal' ELSE 'deposit' END,
    :description, 'success', now(), now(), :after, 1);
WITH entry AS (
  INSERT INTO journal_entries (account_number, entry_id, transaction_id, amount_cents,
      balance_after_cents, posted_at, hash)
    VALUES (:acct, :journal_entry_id + 1, 'pgb' || :run || '-' || :client_id || '-' || :nonce,
      :cents * (1 - 2 * :withdrawal), :after, :posted_at::timestamptz,
      bench_entry_hash(:journal_hash, :journal_entry_id + 1, :acct::text,
        'pgb' || :run || '-' || :client_id || '-' || :nonce, :cents * (1 - 2 * :withdrawal),
        :after, :posted_at::timestamptz))
    RETURNING entry_id, hash, posted_at)
UPDATE accounts SET balance_cents = :after, updated_at = now(), version = version + 1,
    journal_entry_id = entry.entry_id, journal_hash = entry.hash,
    journal_posted_at = entry.posted_at
  FROM entry WHERE account_number = :acct;
INSERT INTO events (type, occurred_at, actor_id, request_id, account_number, transaction_id,
    transaction_version, subject_type, data)
  VALUES ('transaction.posted', now(), 'master', 'pgb-' || :client_id || '-' || :nonce, :acct,
    'pgb' || :run || '-' || :client_id || '-' || :nonce, 1, 'transaction',
    json_build_object('transaction_id', 'pgb' || :run || '-' || :client_id || '-' || :nonce,
      'account_number', :acct::text, 'amount_cents', :cents::bigint,
      'transaction_type', CASE WHEN :withdrawal = 1 THEN 'withdrawal' ELSE 'deposit' END,
      'description', :description::text, 'status', 'success', 'timestamp', now(),
      'updated_at', now(), 'balance_after_cents', :after::bigint, 'deleted_at', NULL,
      'version', 1)::text);
\endif
COMMIT;

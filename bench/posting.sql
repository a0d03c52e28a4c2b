-- One posting, the work POST /v1/transactions does in PostgreSQL: lock the account's row,
-- check funds, move the balance, store the transaction and its event (the audit trail's
-- outbox row, with the transaction as JSON, about as long as the API's), commit.
-- Set with -D: lo, hi (account numbers to pick from), run (a number per phase), description.
\set acct random(:lo, :hi)
\set cents random(1, 10000)
\set withdrawal random(0, 1)
\set nonce random(0, 9000000000000000000)
BEGIN;
SELECT balance_cents FROM accounts WHERE account_number = :acct FOR UPDATE \gset
\set after :balance_cents + :cents * (1 - 2 * :withdrawal)
\if :after >= 0
UPDATE accounts SET balance_cents = :after, updated_at = now(), version = version + 1
  WHERE account_number = :acct;
INSERT INTO transactions (transaction_id, account_number, amount_cents, transaction_type,
    description, status, "timestamp", updated_at, balance_after_cents, version)
  VALUES ('pgb' || :run || '-' || :client_id || '-' || :nonce, :acct, :cents,
    CASE WHEN :withdrawal = 1 THEN 'withdrawal' ELSE 'deposit' END,
    :description, 'success', now(), now(), :after, 1);
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

-- Notifications (notifications/): a transactional outbox fed from the audit log.
--
-- notification_cursor: per deployment (task queue; one inventory), the last audit seq turned into
-- deliveries. Advanced in the same transaction that inserts them, so a worker stopped at any point
-- neither loses an event nor queues one twice.
CREATE TABLE notification_cursor (
  scope       text        PRIMARY KEY,
  last_seq    bigint      NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per (event, target): the primary key is the delivery id receivers get as Idempotency-Key.
-- The event holds references only; target URLs are read from Vault at each attempt, never stored.
CREATE TABLE notification_outbox (
  id               text        PRIMARY KEY,
  scope            text        NOT NULL,
  event_id         text        NOT NULL,
  kind             text        NOT NULL,
  target           text        NOT NULL,
  secret_id        text,
  event            jsonb       NOT NULL,
  state            text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts         integer     NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT now(),
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  last_error       text,
  UNIQUE (scope, event_id, target)
);

CREATE INDEX notification_outbox_due ON notification_outbox (scope, next_attempt_at) WHERE state = 'pending';
CREATE INDEX notification_outbox_dead ON notification_outbox (scope, created_at) WHERE state = 'dead';

-- The worker reads the audit log (it could already) and keeps these two; no DELETE.
GRANT SELECT, INSERT, UPDATE ON notification_cursor, notification_outbox TO rotor_app;

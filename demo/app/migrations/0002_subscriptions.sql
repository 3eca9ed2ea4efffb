-- Paid plans, written by billing-service at checkout.
CREATE TABLE subscriptions (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id),
    plan text NOT NULL,
    amount_cents integer NOT NULL CHECK (amount_cents >= 0),
    status text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_user_idx ON subscriptions (user_id);

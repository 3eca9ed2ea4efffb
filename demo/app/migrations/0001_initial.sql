-- Accounts, chats and their messages.
CREATE TABLE users (
    id bigserial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE chats (
    id bigserial PRIMARY KEY,
    owner_id bigint NOT NULL REFERENCES users (id),
    title text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chats_owner_idx ON chats (owner_id);

CREATE TABLE messages (
    id bigserial PRIMARY KEY,
    chat_id bigint NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    author_id bigint NOT NULL REFERENCES users (id),
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_chat_idx ON messages (chat_id, id);

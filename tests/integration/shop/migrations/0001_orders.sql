CREATE TABLE "Order" (id serial PRIMARY KEY, item text NOT NULL, "createdAt" timestamptz NOT NULL DEFAULT now());

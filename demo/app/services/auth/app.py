"""auth-service: accounts and bearer sessions."""

import json

from common import db, log, passwords, redisconn, sessions, startup, web
from common.web import HttpError

SERVICE = "auth-service"
EMAIL_QUEUE = "email:queue"


class Handler(web.JsonHandler):
    service = SERVICE
    routes = (
        ("POST", r"/api/auth/register", "register"),
        ("POST", r"/api/auth/login", "login"),
        ("GET", r"/api/auth/me", "me"),
    )
    health_checks = (db.ping, redisconn.ping)

    def register(self):
        data = self.read_json()
        email = web.required_field(data, "email", 254).lower()
        password = web.required_field(data, "password", 200)
        if "@" not in email:
            raise HttpError(400, "field 'email' must be an email address")
        # ON CONFLICT rather than catching the unique violation: PostgreSQL logs a failing
        # statement with its values, and this one carries the password hash.
        with db.cursor() as cur:
            cur.execute(
                "INSERT INTO users (email, password_hash) VALUES (%s, %s) ON CONFLICT (email) DO NOTHING RETURNING id",
                (email, passwords.hash_password(password)),
            )
            row = cur.fetchone()
        if row is None:
            raise HttpError(409, "email already registered")
        user_id = row["id"]
        job = {"kind": "welcome", "user_id": user_id, "to": email}
        redisconn.client().lpush(EMAIL_QUEUE, json.dumps(job))
        log.info("registered user", user_id=user_id)
        return 201, {"id": user_id, "email": email}

    def login(self):
        data = self.read_json()
        email = web.required_field(data, "email", 254).lower()
        password = web.required_field(data, "password", 200)
        with db.cursor() as cur:
            cur.execute("SELECT id, password_hash FROM users WHERE email = %s", (email,))
            row = cur.fetchone()
        if not row or not passwords.verify(password, row["password_hash"]):
            raise HttpError(401, "invalid email or password")
        return 200, {"token": sessions.create(row["id"])}

    def me(self):
        user_id = sessions.user_id_from_header(self.headers.get("Authorization"))
        if user_id is None:
            raise HttpError(401, "missing or invalid bearer token")
        with db.cursor() as cur:
            cur.execute("SELECT id, email FROM users WHERE id = %s", (user_id,))
            row = cur.fetchone()
        if not row:
            raise HttpError(401, "unknown user")
        return 200, {"id": row["id"], "email": row["email"]}


def main():
    startup.prepare(SERVICE)
    web.serve(Handler)


if __name__ == "__main__":
    main()

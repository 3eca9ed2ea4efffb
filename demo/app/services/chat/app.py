"""chat-service: a user's chats and their messages."""

from common import db, log, redisconn, sessions, startup, upstreams, web
from common.web import HttpError

SERVICE = "chat-service"


def chat_db():
    """The transaction every chat endpoint runs in."""
    return db.cursor()


def iso(row, *keys):
    for key in keys:
        row[key] = row[key].isoformat()
    return row


class Handler(web.JsonHandler):
    service = SERVICE
    routes = (
        ("GET", r"/api/chats", "list_chats"),
        ("POST", r"/api/chats", "create_chat"),
        ("GET", r"/api/chats/(?P<chat_id>\d+)/messages", "list_messages"),
        ("POST", r"/api/chats/(?P<chat_id>\d+)/messages", "post_message"),
    )
    health_checks = (db.ping, redisconn.ping)

    def user_id(self):
        user_id = sessions.user_id_from_header(self.headers.get("Authorization"))
        if user_id is None:
            raise HttpError(401, "missing or invalid bearer token")
        return user_id

    def list_chats(self):
        user_id = self.user_id()
        with chat_db() as cur:
            cur.execute(
                "SELECT id, title, created_at FROM chats WHERE owner_id = %s ORDER BY id DESC LIMIT 100",
                (user_id,),
            )
            rows = cur.fetchall()
        return 200, [iso(dict(r), "created_at") for r in rows]

    def create_chat(self):
        user_id = self.user_id()
        title = web.required_field(self.read_json(), "title", 200)
        with chat_db() as cur:
            cur.execute(
                "INSERT INTO chats (owner_id, title) VALUES (%s, %s) RETURNING id, title, created_at",
                (user_id, title),
            )
            row = cur.fetchone()
        log.info("chat created", chat_id=row["id"])
        return 201, iso(dict(row), "created_at")

    def list_messages(self, chat_id):
        user_id = self.user_id()
        with chat_db() as cur:
            self.check_owner(cur, chat_id, user_id)
            cur.execute(
                "SELECT id, chat_id, author_id, body, created_at FROM messages"
                " WHERE chat_id = %s ORDER BY id DESC LIMIT 100",
                (chat_id,),
            )
            rows = cur.fetchall()
        return 200, [iso(dict(r), "created_at") for r in rows]

    def post_message(self, chat_id):
        user_id = self.user_id()
        body = web.required_field(self.read_json(), "body", 4000)
        with chat_db() as cur:
            self.check_owner(cur, chat_id, user_id)
            cur.execute(
                "INSERT INTO messages (chat_id, author_id, body) VALUES (%s, %s, %s)"
                " RETURNING id, chat_id, author_id, body, created_at",
                (chat_id, user_id, body),
            )
            row = cur.fetchone()
        # Each message is screened by OpenAI's moderation after it is stored; a failed call leaves it unscreened.
        try:
            upstreams.call("openai")
        except upstreams.ProviderError:
            log.error("message not screened", provider="openai", message_id=row["id"])
        return 201, iso(dict(row), "created_at")

    @staticmethod
    def check_owner(cur, chat_id, user_id):
        cur.execute("SELECT owner_id FROM chats WHERE id = %s", (chat_id,))
        row = cur.fetchone()
        if not row or row["owner_id"] != user_id:
            raise HttpError(404, "chat not found")


def main():
    startup.prepare(SERVICE)
    web.serve(Handler)


if __name__ == "__main__":
    main()

"""analytics-service: product counts for the dashboard."""

from common import db, startup, web

SERVICE = "analytics-service"
SUMMARY = """
SELECT (SELECT count(*) FROM users) AS users,
       (SELECT count(*) FROM chats) AS chats,
       (SELECT count(*) FROM messages) AS messages,
       (SELECT count(*) FROM subscriptions) AS subscriptions
"""


class Handler(web.JsonHandler):
    service = SERVICE
    routes = (("GET", r"/api/analytics/summary", "summary"),)
    health_checks = (db.ping,)

    def summary(self):
        with db.cursor() as cur:
            cur.execute(SUMMARY)
            return 200, dict(cur.fetchone())


def main():
    startup.prepare(SERVICE)
    web.serve(Handler)


if __name__ == "__main__":
    main()

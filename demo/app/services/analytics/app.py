"""analytics-service: product counts for the dashboard."""

from common import db, startup, web

SERVICE = "analytics-service"
TABLES = ("users", "chats", "messages", "subscriptions")


class Handler(web.JsonHandler):
    service = SERVICE
    routes = (("GET", r"/api/analytics/summary", "summary"),)
    health_checks = (db.ping,)

    def summary(self):
        # Table names come from the constant above, never from the request.
        query = " UNION ALL ".join(f"SELECT '{t}' AS name, count(*) AS n FROM {t}" for t in TABLES)
        with db.cursor() as cur:
            cur.execute(query)
            counts = {row["name"]: row["n"] for row in cur.fetchall()}
        return 200, counts


def main():
    startup.prepare(SERVICE)
    web.serve(Handler)


if __name__ == "__main__":
    main()

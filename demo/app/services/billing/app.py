"""billing-service: checkout of paid plans (the payment provider, Stripe, is faked in staging: common/upstreams)."""

import sys

from common import config, db, log, redisconn, sessions, startup, upstreams, web
from common.web import HttpError

SERVICE = "billing-service"
PLANS = {"starter": 900, "pro": 2900, "team": 9900}
# Filled once at startup from load_settings().
SETTINGS = {}


class Handler(web.JsonHandler):
    service = SERVICE
    routes = (
        ("POST", r"/api/billing/checkout", "checkout"),
        ("GET", r"/api/billing/plans", "plans"),
    )
    health_checks = (db.ping, redisconn.ping)

    def plans(self):
        return 200, [{"plan": name, "amount_cents": cents} for name, cents in PLANS.items()]

    def checkout(self):
        user_id = sessions.user_id_from_header(self.headers.get("Authorization"))
        if user_id is None:
            raise HttpError(401, "missing or invalid bearer token")
        plan = web.required_field(self.read_json(), "plan", 50)
        if plan not in PLANS:
            raise HttpError(400, f"unknown plan; choose one of {', '.join(PLANS)}")
        try:
            upstreams.call("stripe")
        except upstreams.ProviderError as exc:
            log.error("payment failed", provider="stripe")
            raise HttpError(502, "payment provider unavailable") from exc
        with db.cursor() as cur:
            cur.execute(
                "INSERT INTO subscriptions (user_id, plan, amount_cents, status) VALUES (%s, %s, %s, 'paid')"
                " RETURNING id, plan, amount_cents, status",
                (user_id, plan, PLANS[plan]),
            )
            row = cur.fetchone()
        log.info("checkout", subscription_id=row["id"], plan=plan, provider=SETTINGS["provider"])
        return 201, dict(row)


def load_settings():
    """What billing needs before it may take payments; a missing one must stop the service."""
    return {
        "provider": config.get("PAYMENT_PROVIDER", "sandbox"),
    }


def main():
    startup.prepare(SERVICE)
    try:
        SETTINGS.update(load_settings())
    except config.MissingSetting as exc:
        log.error(f"cannot start: {exc}")
        sys.exit(2)
    web.serve(Handler)


if __name__ == "__main__":
    main()

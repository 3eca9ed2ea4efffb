"""email-worker: drains the redis email queue (the email provider is faked in staging: common/upstreams)."""

import json
import threading

from common import config, log, redisconn, startup, upstreams, web

SERVICE = "email-worker"
QUEUE = "email:queue"
SENT_COUNTER = "email:sent"


class Worker(threading.Thread):
    def __init__(self):
        super().__init__(name="email-worker", daemon=True)
        self.stopping = threading.Event()
        self.last_error = None

    def run(self):
        while not self.stopping.is_set():
            try:
                # A short block keeps shutdown quick: the loop re-checks `stopping` four times a second (the stop
                # waits for a job taken to be delivered, and for this block to end).
                item = redisconn.client().brpop(QUEUE, timeout=0.25)
                self.last_error = None
            except redisconn.Error as exc:
                self.last_error = exc.__class__.__name__
                self.stopping.wait(1)
                continue
            if item:
                self.deliver(item[1])

    def deliver(self, raw):
        try:
            job = json.loads(raw)
        except ValueError:
            log.error("dropped malformed job")
            return
        # Only the user id goes to the log: addresses are personal data.
        try:
            upstreams.call("email")
        except upstreams.ProviderError:
            log.error("email not delivered", kind=job.get("kind"), user_id=job.get("user_id"))
            return
        log.info("sent email", kind=job.get("kind"), user_id=job.get("user_id"))
        redisconn.client().incr(SENT_COUNTER)

    def stop(self):
        self.stopping.set()
        self.join(timeout=3)


WORKER = Worker()


def worker_alive():
    return None if WORKER.is_alive() else "queue worker is not running"


class Handler(web.JsonHandler):
    service = SERVICE
    routes = (("GET", r"/api/email/stats", "stats"),)
    health_checks = (redisconn.ping, worker_alive)

    def stats(self):
        client = redisconn.client()
        return 200, {"queued": client.llen(QUEUE), "sent": int(client.get(SENT_COUNTER) or 0)}


def main():
    startup.prepare(SERVICE, needs_db=False)
    log.info("consuming", queue=QUEUE, redis_host=config.get("REDIS_HOST", "redis"))
    WORKER.start()
    web.serve(Handler, on_stop=[WORKER.stop])


if __name__ == "__main__":
    main()

"""frontend: the static landing page, stamped with the running release."""

import html
import pathlib

from common import config, startup, web

SERVICE = "frontend"
PAGE = pathlib.Path(__file__).resolve().parent / "static" / "index.html"


class Handler(web.JsonHandler):
    service = SERVICE

    def index(self):
        page = PAGE.read_text().replace("{{VERSION}}", html.escape(config.version()))
        self.send_bytes(200, page.encode(), "text/html; charset=utf-8")

    def dispatch(self, method):
        # The page is HTML, not JSON: answer it directly and leave everything else to JsonHandler.
        if method == "GET" and self.url_path in ("/", "/index.html"):
            self.index()
            return
        super().dispatch(method)


def main():
    startup.prepare(SERVICE, needs_db=False)
    web.serve(Handler)


if __name__ == "__main__":
    main()

# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What users saw while a procedure ran: the user-facing endpoints probed in rounds, and the time they went
without an answer.

A round probes every URL once; it is failed when one of them got no answer (no connection, a timeout) or an
answer of 500 and more. A gap runs from the first failed round to the next round with every answer good: the
time users went without a (good) answer. Pure bookkeeping, no I/O: runbook.rollback.user_probe probes and feeds
it.
"""

from __future__ import annotations

import datetime

# The gaps kept for the report, longest first; the counts cover them all.
KEPT_GAPS = 20


def _iso(epoch):
    """``2026-12-04T10:01:02.35Z``: to the hundredth of a second, as probes every 0.2 s need."""
    moment = datetime.datetime.fromtimestamp(float(epoch), tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%02dZ" % (moment.microsecond // 10000)


class Tally:
    """Rounds of probes, added in time order (``add``); ``summary()`` says what they saw."""

    def __init__(self, urls, interval):
        self.urls = list(urls)
        self.interval = float(interval)
        self.rounds = 0
        self.probes = 0
        self.unanswered = 0
        self.answered_5xx = 0
        self.first = None
        self.last = None
        self.gap_from = None
        self.gap_why = set()
        self.gaps = []

    def add(self, at, outcomes):
        """One round at ``at`` (epoch seconds): ``outcomes`` is the HTTP status per URL, None for no answer."""
        self.rounds += 1
        self.first = at if self.first is None else self.first
        self.last = at
        failed = False
        for status in outcomes:
            self.probes += 1
            if status is None:
                self.unanswered += 1
                self.gap_why.add("no answer")
                failed = True
            elif status >= 500:
                self.answered_5xx += 1
                self.gap_why.add("5xx")
                failed = True
        if failed and self.gap_from is None:
            self.gap_from = at
        elif not failed and self.gap_from is not None:
            self._close(at)

    def _close(self, at):
        self.gaps.append({"from": self.gap_from, "to": at, "seconds": round(at - self.gap_from, 2),
                          "why": sorted(self.gap_why)})  # fmt: skip
        self.gap_from, self.gap_why = None, set()

    def summary(self, ended=None):
        """``{url_count, interval, rounds, probes, unanswered, answered_5xx, without_answer_seconds,
        longest_gap_seconds, gaps, from, to, ongoing}``: a gap still open at the end counts up to ``ended`` (the last
        round's time)."""
        gaps = list(self.gaps)
        ongoing = self.gap_from is not None
        if ongoing:
            end = max(float(ended if ended is not None else self.last), self.gap_from)
            gaps.append({"from": self.gap_from, "to": end, "seconds": round(end - self.gap_from, 2),
                         "why": sorted(self.gap_why)})  # fmt: skip
        kept = sorted(gaps, key=lambda g: -g["seconds"])[:KEPT_GAPS]
        return {
            # How many, not which: the URLs are the inventory's, and the summary goes into the report.
            "url_count": len(self.urls),
            "interval": self.interval,
            "rounds": self.rounds,
            "probes": self.probes,
            "unanswered": self.unanswered,
            "answered_5xx": self.answered_5xx,
            "without_answer_seconds": round(sum(g["seconds"] for g in gaps), 2),
            "longest_gap_seconds": round(max([g["seconds"] for g in gaps] + [0.0]), 2),
            "gaps": [dict(g, **{"from": _iso(g["from"]), "to": _iso(g["to"])}) for g in kept],
            "from": _iso(self.first) if self.first is not None else None,
            "to": _iso(self.last) if self.last is not None else None,
            "ongoing": ongoing,
        }


def summary_line(summary):
    """``users without an answer 2.3 s (longest gap 1.9 s): 12 of 600 probes unanswered, 3 answered 5xx`` or
    ``users always answered (600 probes every 0.2 s)``; "" without a summary."""
    if not isinstance(summary, dict) or not summary.get("rounds"):
        return ""
    probes, every = summary.get("probes", 0), summary.get("interval")
    if not summary.get("without_answer_seconds") and not summary.get("unanswered") and not summary.get("answered_5xx"):
        return "users always answered (%d probes, every %g s)" % (probes, every)
    return "users without an answer %.1f s%s (longest gap %.1f s): %d of %d probes unanswered, %d answered 5xx" % (
        summary["without_answer_seconds"], " and counting" if summary.get("ongoing") else "",
        summary["longest_gap_seconds"], summary["unanswered"], probes, summary["answered_5xx"])  # fmt: skip

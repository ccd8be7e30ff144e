"""A real crawler: a Scrapy spider that follows the shop's links to every profile it can reach.

Home -> items -> comment pages (all of them, following "next") -> each comment's author. This
is how a crawler harvests a site whose ids are opaque: it does not guess ids, it walks links.
Scrapy's reactor runs once per process, so ``run`` starts the spider in a child process and
reads its tally back as JSON; ``python -m example_apps.attacks.scrapy_crawler`` runs it here.

    python -m example_apps.attacks.scrapy_crawler --base-url http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.exceptions import CloseSpider
from scrapy.http import Response

from .common import REFUSED, GiveUp, Outcome, require_local

NAME = "crawler (Scrapy spider)"


class ShopSpider(scrapy.Spider):
    """Follows links through the shop (Scrapy's default, depth-first order) and records every
    profile it reads."""

    name = "shop"

    def __init__(self, base_url: str, give_up_after: int = 10, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url
        self.start_urls = [base_url + "/"]
        self.outcome = Outcome(NAME)
        self.give_up = GiveUp(give_up_after)

    def _count(self, response: Response) -> bool:
        """Tally one answer; False when it was refused (nothing to parse)."""
        self.outcome.record(response.status, response.headers)
        if self.give_up.after(response.status):
            self.outcome.stopped = f"gave up after {self.give_up.limit} refusals in a row"
            raise CloseSpider("refused")
        return response.status not in REFUSED and response.status < 400

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        if not self._count(response):
            return
        for href in response.css('a[href^="/items/"]::attr(href)').getall():
            yield response.follow(href, self.parse_item)

    def parse_item(self, response: Response) -> Iterator[Any]:
        if not self._count(response):
            return
        for href in response.css('a[href*="/comments"]::attr(href)').getall():
            yield response.follow(href, self.parse_comments)

    def parse_comments(self, response: Response) -> Iterator[Any]:
        if not self._count(response):
            return
        for href in response.css('a[href^="/users/"]::attr(href)').getall():
            yield response.follow(href, self.parse_profile)
        for href in response.css('a[rel="next"]::attr(href)').getall():
            yield response.follow(href, self.parse_comments)

    def parse_profile(self, response: Response) -> Iterator[Any]:
        if not self._count(response):
            return
        profile_id = response.css("dl::attr(data-profile-id)").get()
        if profile_id:
            self.outcome.profiles.add(profile_id)
            yield {"profile": profile_id, "name": response.css("h1::text").get()}


def crawl(base_url: str, *, max_requests: int = 300, give_up_after: int = 10,
          client_ip: str | None = None) -> Outcome:
    """Run the spider in this process (once per process: Scrapy's reactor cannot restart)."""
    base = require_local(base_url)
    headers = {"X-Forwarded-For": client_ip} if client_ip else {}
    process = CrawlerProcess(settings={
        "LOG_LEVEL": "ERROR",
        "ROBOTSTXT_OBEY": False,
        "CONCURRENT_REQUESTS": 4,
        "DOWNLOAD_DELAY": 0,
        "RETRY_ENABLED": False,
        "REDIRECT_ENABLED": False,
        "HTTPERROR_ALLOW_ALL": True,
        "TELNETCONSOLE_ENABLED": False,
        "CLOSESPIDER_PAGECOUNT": max_requests,
        "DEFAULT_REQUEST_HEADERS": headers,
    })
    crawler = process.create_crawler(ShopSpider)
    process.crawl(crawler, base_url=base, give_up_after=give_up_after)
    process.start()
    spider: ShopSpider = crawler.spider  # type: ignore[assignment]
    if not spider.outcome.stopped:
        reason = crawler.stats.get_value("finish_reason") if crawler.stats else None
        spider.outcome.stopped = ("request cap reached" if reason == "closespider_pagecount"
                                  else "ran out of links")
    return spider.outcome


def run(base_url: str, *, max_requests: int = 300, give_up_after: int = 10,
        client_ip: str | None = None, timeout: float = 120.0) -> Outcome:
    """Run the spider in a child process and return its tally."""
    command = [sys.executable, "-m", "example_apps.attacks.scrapy_crawler", "--json",
               "--base-url", require_local(base_url), "--max-requests", str(max_requests),
               "--give-up-after", str(give_up_after)]
    if client_ip:
        command += ["--client-ip", client_ip]
    root = str(Path(__file__).resolve().parents[2])  # where ``example_apps`` is importable
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          check=False, cwd=root, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the Scrapy spider failed (exit {done.returncode}): "
                           f"{done.stderr[-2000:]}")
    return Outcome.from_json(json.loads(lines[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--max-requests", type=int, default=300)
    parser.add_argument("--give-up-after", type=int, default=10)
    parser.add_argument("--client-ip")
    parser.add_argument("--json", action="store_true", help="print the full tally as JSON")
    args = parser.parse_args()
    outcome = crawl(args.base_url, max_requests=args.max_requests,
                    give_up_after=args.give_up_after, client_ip=args.client_ip)
    print(json.dumps(outcome.to_json()) if args.json else outcome.summary())


if __name__ == "__main__":
    main()

"""Log replay: parsers, streaming input, results on real public logs, and the HTML report."""

from __future__ import annotations

import base64
import gzip
import io
import itertools
import json
import os
import re
import threading
import zlib
from collections import Counter
from pathlib import Path

import pytest

from antiscrape.cli import main
from antiscrape.config import Config
from antiscrape.identity import ClientAddressing
from antiscrape.replay import LogSource, combined_parser, json_parser, replay_file, replay_lines
from antiscrape.replay.html import render_report
from antiscrape.replay.parsers import (
    _ESCAPED,
    _PLAIN,
    ClfTime,
    combined_client,
    combined_clock,
    combined_fields,
    json_fields,
)
from antiscrape.replay.shards import (
    MAX_AUTO_WORKERS,
    NetworkShards,
    available_cpus,
    choose_workers,
    cross_network_state,
)

from .conftest import SECRET
from .corpora import access_log, read_bytes, read_text

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CONFIG = Config.load({"secret_key": SECRET})


def log(name: str) -> str:
    """The path of access log ``name`` as the CLI takes it (gzip, sniffed by the reader)."""
    return str(access_log(name))


def clf(ip: str, when: str, target: str, ua: str = FIREFOX, status: int = 200) -> str:
    return f'{ip} - - [{when}] "GET {target} HTTP/1.1" {status} 512 "-" "{ua}"'


# -- parsers ---------------------------------------------------------------------------------

def test_combined_line() -> None:
    rec = combined_parser()(
        '203.0.113.5 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif?x=1 HTTP/1.0" 304 - '
        '"http://example.com/start" "Mozilla/5.0 (say \\"hi\\")"')
    assert rec is not None
    assert (rec.ip, rec.method, rec.target, rec.protocol, rec.status) == \
        ("203.0.113.5", "GET", "/a.gif?x=1", "HTTP/1.0", 304)
    assert rec.timestamp == 971211336.0  # 2000-10-10 20:55:36 UTC
    assert rec.referer == "http://example.com/start"
    assert rec.user_agent == 'Mozilla/5.0 (say "hi")'


def test_common_format_has_no_agent() -> None:
    rec = combined_parser()('::1 - - [01/Jan/2024:00:00:00 +0000] "POST /login HTTP/2.0" 401 17')
    assert rec is not None and rec.user_agent == "" and rec.method == "POST"


@pytest.mark.parametrize("line", [
    "",
    "garbage",
    '1.2.3.4 - - [99/Foo/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "x"',
    '1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "\\x16\\x03\\x01\\x02" 400 1 "-" "-"',
    '1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "-" 408 0 "-" "-"',
    '1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" abc 1 "-" "x"',
])
def test_malformed_lines_are_none(line: str) -> None:
    assert combined_parser()(line) is None


def test_clf_time_offsets() -> None:
    t = ClfTime()
    assert t("01/Jan/2024:00:00:00 +0000") == 1704067200.0
    assert t("01/Jan/2024:01:00:00 +0100") == 1704067200.0
    assert t("31/Dec/2023:19:00:00 -0500") == 1704067200.0


def test_clf_time_cache_keeps_seconds_and_zones_apart() -> None:
    """Cached per string, per minute and per day: each level must still give exact values."""
    t = ClfTime()
    assert t("01/Jan/2024:00:00:00 +0000") == 1704067200.0
    assert t("01/Jan/2024:00:00:59 +0000") == 1704067259.0  # same minute, other second
    assert t("01/Jan/2024:00:00:59 +0100") == 1704063659.0  # same minute text, other zone
    assert t("01/Jan/2024:00:07:03 +0000") == 1704067623.0  # same day, other minute
    assert t("01/Jan/2024:00:00:61 +0000") is None
    assert t("01/Jan/2024:00:00:5x +0000") is None
    assert t("01/Jan/2024 00:00:00 +0000") is None


def test_plain_and_escape_aware_patterns_agree_on_a_real_log() -> None:
    """Lines without a backslash take the fast pattern; on those it must read exactly what
    the escape-aware one reads."""
    checked = 0
    for line in read_text("access-logs/elastic-apache.log").splitlines(keepends=True):
        if "\\" in line:
            continue
        plain, escaped = _PLAIN.match(line), _ESCAPED.match(line)
        assert plain is not None and escaped is not None, line
        assert plain.groups() == escaped.groups(), line
        checked += 1
    assert checked > 9_900


def test_json_lines_nginx_and_caddy_shapes() -> None:
    parse = json_parser()
    nginx = parse(json.dumps({"remote_addr": "198.51.100.1", "time_iso8601":
                              "2024-01-01T00:00:00+00:00", "request": "GET /p/1?a=b HTTP/1.1",
                              "status": "200", "http_user_agent": FIREFOX}))
    assert nginx is not None and nginx.target == "/p/1?a=b" and nginx.status == 200
    assert nginx.timestamp == 1704067200.0 and nginx.user_agent == FIREFOX
    caddy = parse(json.dumps({"ts": 1704067200.5, "status": 404, "request": {
        "remote_ip": "2001:db8::1", "method": "GET", "uri": "/x", "proto": "HTTP/2.0",
        "headers": {"User-Agent": ["curl/8"], "Referer": ["https://a/"]}}}))
    assert caddy is not None and (caddy.ip, caddy.target, caddy.status) == \
        ("2001:db8::1", "/x", 404)
    assert caddy.user_agent == "curl/8" and caddy.referer == "https://a/"
    assert parse("{not json") is None
    assert parse(json.dumps({"remote_addr": "1.2.3.4"})) is None
    assert parse("[1, 2]") is None


def test_json_lines_read_as_the_same_log_in_combined_format() -> None:
    """An nginx JSON log (``$time_local``, one ``request`` string) of the same requests gives
    exactly the fields the combined parser reads."""
    combined, as_json = combined_fields(), json_fields()
    for line in read_text("access-logs/webhawk-2021.log").splitlines():
        rec = combined(line)
        assert rec is not None
        when = line.split("[", 1)[1].split("]", 1)[0]
        doc = json.dumps({"time_local": when, "remote_addr": rec[0],
                          "request": f"{rec[2]} {rec[3]} {rec[4]}", "status": str(rec[5]),
                          "http_referer": rec[7] or "-", "http_user_agent": rec[6] or "-"})
        assert as_json(doc) == rec, line


def test_json_field_names_fall_back_when_the_first_is_empty() -> None:
    """Field names are resolved once per key set; an empty value still falls back to the
    next candidate name on that very line."""
    parse = json_fields()
    base = {"time": "2024-01-01T00:00:00Z", "request": "GET / HTTP/1.1", "status": 200}
    first = parse(json.dumps({"remote_addr": "", "client_ip": "198.51.100.9", **base}))
    second = parse(json.dumps({"remote_addr": "203.0.113.1", "client_ip": "198.51.100.9",
                               **base}))
    assert first is not None and second is not None
    assert (first[0], second[0]) == ("198.51.100.9", "203.0.113.1")
    assert parse(json.dumps({"remote_addr": "", **base})) is None


# -- streaming input -----------------------------------------------------------------------

def test_gzip_input_is_sniffed_and_streamed(tmp_path: Path) -> None:
    raw = read_bytes("access-logs/webhawk-2021.log")
    gz = tmp_path / "access.log.gz"
    gz.write_bytes(gzip.compress(raw))
    plain_run = replay_lines(io.StringIO(raw.decode()), CONFIG)
    with LogSource(str(gz)) as source:
        gz_run = replay_lines(source, CONFIG)
        assert source.position() == gz.stat().st_size  # progress reads the compressed size
    assert gz_run.tally.requests == plain_run.tally.requests == 5854
    assert gz_run.tally.actions == plain_run.tally.actions


def test_malformed_lines_are_counted_never_fatal() -> None:
    lines = [clf("198.51.100.1", "01/Jan/2024:00:00:00 +0000", "/"),
             "\x00\x01binary junk", "", "   ",
             '198.51.100.1 - - [01/Jan/2024:00:00:01 +0000] "GET / HTTP/1.1" 200',  # truncated
             clf("198.51.100.1", "01/Jan/2024:00:00:02 +0000", "/b")]
    run = replay_lines(lines, CONFIG, fmt="combined")
    assert (run.tally.lines, run.tally.requests, run.tally.malformed) == (6, 2, 2)


def test_client_state_is_capped() -> None:
    from antiscrape.decision import Action, Decision
    from antiscrape.replay.tally import Tally

    tally = Tally(60, 95, max_clients=100)
    allow = Decision(Action.ALLOW, "ok")
    for i in range(300):
        tally.add(f"10.0.{i // 256}.{i % 256}", float(i), FIREFOX, "/", allow)
    assert len(tally.clients) == 100 and tally.overflow_clients == 200
    assert tally.requests == 300 and tally.summary()["clients"] == 300


# -- the real logs: stable, explained results ------------------------------------------------

def empty_agent_requests(name: str, exempt: tuple[str, ...]) -> Counter[str]:
    """Requests with an empty user agent ("-"), per IP, read straight from the log."""
    out: Counter[str] = Counter()
    for line in read_text(f"access-logs/{name}").splitlines():
        fields = line.split('"')
        path_part = fields[1].split(" ")[1] if len(fields[1].split(" ")) > 1 else ""
        if fields[5] == "-" and not path_part.startswith(exempt):
            out[line.split(" ", 1)[0]] += 1
    return out


@pytest.mark.parametrize("name,lines", [("elastic-apache.log", 10_000),
                                        ("hackers-access.log", 3_456),
                                        ("webhawk-2021.log", 5_854),
                                        ("webhawk-2018-12-15.log", 4_961)])
def test_every_line_of_the_real_logs_replays(name: str, lines: int) -> None:
    with LogSource(log(name)) as source:
        run = replay_lines(source, CONFIG)
    tally = run.tally
    assert (tally.lines, tally.malformed, tally.requests) == (lines, 0, lines)
    # The clock followed the log: the replay spans the log's own time range.
    assert tally.first is not None and tally.last is not None and tally.last > tally.first
    # An empty user agent scores exactly challenge_at (60): each such request outside the
    # exempt paths is challenged, and nothing else in these logs reaches block_at offline.
    empty = empty_agent_requests(name, CONFIG.exempt_paths)
    flagged = {ip: c for ip, c in tally.clients.items() if c.worst_reason.endswith(
        "empty user agent")}
    assert set(empty) <= set(tally.clients)
    for ip in empty:
        assert tally.clients[ip].worst >= 2, ip  # challenge or stricter
    assert set(flagged) <= set(empty)


def test_webhawk_2018_python_client_is_throttled_by_its_ip_budget() -> None:
    """198.72.227.213 sends 3,000+ requests within minutes with a python-requests agent:
    its score (40) shrinks the 240/min IP budget to 86/min, and everything past that is
    throttled. The other 331 clients stay within their budgets."""
    with LogSource(log("webhawk-2018-12-15.log")) as source:
        tally = replay_lines(source, CONFIG).tally
    s = tally.summary()
    top = s["top_offenders"]
    heavy = next(o for o in top if o["action"] == "throttle")
    assert heavy["client"] == "198.72.227.213"
    assert "python-requests" in heavy["user_agent"]
    assert heavy["rule"] == "budget:ip" and "86/min" in heavy["reason"]
    logged = sum(1 for line in read_text("access-logs/webhawk-2018-12-15.log").splitlines()
                 if line.startswith("198.72.227.213 "))
    assert heavy["requests"] == logged
    assert s["requests_by_action"]["throttle"] == heavy["flagged"]
    assert s["clients_by_action"]["throttle"] == 1


def test_what_if_curve_is_consistent_with_the_histograms() -> None:
    with LogSource(log("webhawk-2021.log")) as source:
        s = replay_lines(source, CONFIG).tally.summary()
    curve = s["what_if"]
    assert curve[0] == {"threshold": 0, "requests": s["requests"], "clients": s["clients"]}
    assert all(a["requests"] >= b["requests"] and a["clients"] >= b["clients"]
               for a, b in itertools.pairwise(curve))
    at = s["thresholds"]["challenge_at"]
    assert curve[at]["requests"] == sum(s["request_scores"][at:])


def test_enumeration_shows_distinct_records_per_offender() -> None:
    """Access logs carry no route templates: ``protect`` templates are matched on paths."""
    config = Config.load({"secret_key": SECRET,
                          "protect": [{"route": "/users/{user_id}", "kind": "profile"}],
                          "enumeration": {"budgets": {"profile": {"10m": 20}}}})
    lines = [clf("203.0.113.9", f"10/Oct/2023:13:{i // 60:02d}:{i % 60:02d} +0000",
                 f"/users/{(i * 7919) % 1000}") for i in range(100)]
    lines += [clf("198.51.100.4", f"10/Oct/2023:13:{i:02d}:30 +0000", "/users/5")
              for i in range(10)]
    s = replay_lines(lines, config).tally.summary()
    top = s["top_offenders"][0]
    assert top["client"] == "203.0.113.9"
    assert top["distinct_records"] == 100 and top["action"] != "allow"
    assert top["rule"].startswith("enumeration")
    assert "198.51.100.4" not in {o["client"] for o in s["top_offenders"]}


# -- several worker processes ----------------------------------------------------------------

def test_shards_follow_the_engines_networks() -> None:
    shards = NetworkShards(CONFIG, 2)
    assert shards("203.0.113.7") == shards("203.0.113.200")  # one /24
    assert shards("2001:db8:1:2::1") == shards("2001:db8:1:ffff::9")  # one /48
    assert shards("::ffff:203.0.113.9") == shards("203.0.113.1")  # v4-mapped is v4
    assert shards("203.0.113.9:8080") == shards("203.0.113.1")  # a logged port
    assert shards("not-an-ip") == shards("-")  # the engine's "unknown" network
    # Plain dotted quads skip the ipaddress module: same network key as the engine's.
    engine_keys = ClientAddressing((), 24, 48, 64)
    for ip in ("0.0.0.0", "255.255.255.255", "10.20.30.40", "1.2.3.4"):
        assert shards(ip) == zlib.crc32(engine_keys.keys(ip)[1].encode()) % 2
    assert shards("01.2.3.4") == shards("unknown")  # not an address to the engine either
    spread = {shards(f"10.{i}.{i}.1") for i in range(50)}
    assert spread == {0, 1}


@pytest.mark.parametrize("name", ["elastic-apache.log", "hackers-access.log",
                                  "webhawk-2021.log", "webhawk-2018-12-15.log"])
def test_two_workers_decide_exactly_as_one_process(name: str) -> None:
    """With the default config all state stays within a client network, so splitting the log
    by network must not change a single number of the report."""
    assert cross_network_state(CONFIG) == []
    single = replay_file(log(name), CONFIG, workers=1)
    sharded = replay_file(log(name), CONFIG, workers=2)
    assert sharded.workers == 2
    assert sharded.tally.summary(top=1_000) == single.tally.summary(top=1_000)
    assert sharded.tally.clients.keys() == single.tally.clients.keys()


def test_workers_started_beside_other_threads_decide_as_one_process() -> None:
    """A process with another thread running must not fork its workers (a child could
    inherit a lock that thread held): they come from the fork server, and the report is the
    same as with one process."""
    from antiscrape.replay import runner

    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        assert runner._threads() > 1
        assert runner._process_context().get_start_method() != "fork"
        single = replay_file(log("elastic-apache.log"), CONFIG, workers=1)
        sharded = replay_file(log("elastic-apache.log"), CONFIG, workers=2)
    finally:
        stop.set()
        other.join()
    assert sharded.workers == 2
    assert sharded.tally.summary(top=1_000) == single.tally.summary(top=1_000)


TRICKY_LINES = [
    # a quoted user holding a bracketed time: the first "[" is not the timestamp's
    '198.51.100.3 - "ann [01/Jan/2024:00:00:09 +0000]" [01/Jan/2024:00:00:30 +0000] '
    '"GET / HTTP/1.1" 200 5 "-" "x"',
    # invalid request line, valid-looking time
    '198.51.100.4 - - [01/Jan/2024:00:00:40 +0000] "\\x16\\x03" 400 0 "-" "-"',
    # escaped quote in the agent
    '198.51.100.5 - - [01/Jan/2024:00:00:20 +0000] "GET /e HTTP/1.1" 200 5 "-" "a \\"b\\""',
    # a bracket in the first field, a tab in a field, a bad time, two spaces, no bracket
    '[198.51.100.6] - - [01/Jan/2024:00:00:50 +0000] "GET / HTTP/1.1" 200 5 "-" "x"',
    '198.51.100.7\t- - [01/Jan/2024:00:00:50 +0000] "GET / HTTP/1.1" 200 5 "-" "x"',
    '198.51.100.8 - - [01/Foo/2024:00:00:50 +0000] "GET / HTTP/1.1" 200 5 "-" "x"',
    '198.51.100.9  - - [01/Jan/2024:00:00:50 +0000] "GET / HTTP/1.1" 200 5 "-" "x"',
    "garbage without brackets", "",
]


def test_clock_test_for_other_workers_lines_is_exact() -> None:
    """``later`` must say exactly what a full parse says about moving the clock, for real
    lines and for lines built to fool its shortcut."""
    later, parse = combined_clock(), combined_fields()
    lines = read_text("access-logs/webhawk-2021.log").splitlines()[:2000]
    for line in lines + TRICKY_LINES:
        rec = parse(line)
        own = rec[1] if rec is not None else None
        if rec is not None:
            assert combined_client(line) == rec[0]
        for now in (0.0, 1704067215.0, 1704067235.0, 1704067245.0, 1704067255.0,
                    (own or 0.0) - 1, own or 0.0, (own or 0.0) + 1):
            expected = own if own is not None and own > now else None
            assert later(line, now) == expected, (line, now)


@pytest.mark.parametrize("fmt", ["combined", "json"])
def test_two_workers_count_malformed_lines_once(tmp_path: Path, fmt: str) -> None:
    """Malformed and blank lines among many networks: each is counted by exactly one worker
    (combined: the worker owning the line's first field; JSON: worker 0)."""
    lines = [clf(f"10.{i % 50}.{i % 7}.{i % 11 + 1}", f"01/Jan/2024:00:{i // 60:02d}:"
                 f"{i % 60:02d} +0000", f"/p/{i}") for i in range(600)]
    if fmt == "json":
        as_json = []
        for line in lines:
            rec = combined_fields()(line)
            assert rec is not None
            as_json.append(json.dumps({"remote_addr": rec[0], "time_local": line.split(
                "[")[1].split("]")[0], "request": f"GET {rec[3]} HTTP/1.1", "status": 200,
                "http_user_agent": rec[6]}))
        lines = as_json
    for i, bad in enumerate([*TRICKY_LINES, "{not json", "   "]):
        lines.insert(37 * i + 5, bad)
    log = tmp_path / "mixed.log"
    log.write_text("\n".join(lines) + "\n")
    single = replay_file(str(log), CONFIG, fmt=fmt, workers=1).tally.summary(top=1_000)
    sharded = replay_file(str(log), CONFIG, fmt=fmt, workers=2).tally.summary(top=1_000)
    assert single["malformed"] > 5 and single["requests"] >= 600
    assert sharded == single


def fingerprint_budget_log() -> tuple[Config, list[str], str, str]:
    """One browser build (one fingerprint, risk score 0) on two networks that land in
    different workers."""
    config = Config.load({"secret_key": SECRET, "budgets": {"default": {
        "fingerprint": "30/minute"}}})
    shards = NetworkShards(config, 2)
    first = "198.51.100.7"
    second = next(f"203.0.{i}.7" for i in range(256)
                  if shards(f"203.0.{i}.7") != shards(first))
    lines = [clf(first if i % 2 else second, f"01/Jan/2024:00:00:{i:02d} +0000",
                 f"/page/{i}") for i in range(40)]
    return config, lines, first, second


def test_fingerprint_budgets_are_split_between_workers(tmp_path: Path) -> None:
    """The documented difference: budgets per fingerprint count across networks, and each
    worker sees only its own networks' share. 40 requests in 40 s, 20 from each network, on
    a 30/minute fingerprint budget: one process throttles, two workers each count 20."""
    config, lines, first, second = fingerprint_budget_log()
    log = tmp_path / "crawl.log"
    log.write_text("\n".join(lines) + "\n")
    assert cross_network_state(config) == ["fingerprint budgets on default routes"]
    single = replay_file(str(log), config, workers=1).tally
    sharded = replay_file(str(log), config, workers=2).tally
    assert single.actions["throttle"] == 10
    assert single.clients[first].worst_rule == "budget:fingerprint"
    assert sharded.actions["throttle"] == 0  # undercounted: why auto picks one process
    assert sharded.clients[first].worst == sharded.clients[second].worst == 0
    # Everything kept per network is unaffected.
    assert sharded.requests == single.requests == 40
    assert {ip: c.requests for ip, c in sharded.clients.items()} == \
        {ip: c.requests for ip, c in single.clients.items()}
    workers, why = choose_workers(None, str(log), config)
    assert workers == 1 and "fingerprint budgets" in why
    workers, why = choose_workers(2, str(log), config)
    assert workers == 2 and "undercounted" in why


def test_automatic_worker_count(tmp_path: Path) -> None:
    big = tmp_path / "big.log"
    big.write_bytes(read_bytes("access-logs/elastic-apache.log"))  # 2.3 MB
    protected = Config.load({"secret_key": SECRET,
                             "protect": [{"route": "/users/{user_id}", "kind": "profile"}]})
    assert choose_workers(None, "-", CONFIG)[0] == 1
    assert choose_workers(3, "-", CONFIG)[0] == 1
    assert choose_workers(None, log("webhawk-2018-12-15.log"), CONFIG)[0] == 1  # small
    cpus = min(available_cpus(), MAX_AUTO_WORKERS)
    assert choose_workers(None, str(big), CONFIG, load=0.0)[0] == cpus
    assert choose_workers(None, str(big), CONFIG, load=float(cpus))[0] == 1  # none idle
    # The committed corpus is the same log gzipped: ~10x smaller, still a big log.
    assert choose_workers(None, log("elastic-apache.log"), CONFIG, load=0.0)[0] == cpus
    workers, why = choose_workers(None, str(big), protected, load=0.0)
    assert workers == 1 and "per fingerprint" in why
    no_fp = Config.load({"secret_key": SECRET,
                         "protect": [{"route": "/users/{user_id}", "kind": "profile"}],
                         "enumeration": {"levels": {"fingerprint": 0}, "walk_length": 0}})
    assert cross_network_state(no_fp) == []


def test_replay_never_writes_to_the_configured_store() -> None:
    """A replay runs on the log's clock: it keeps its state in memory even when the config
    names a Redis server (here one that is not even there)."""
    config = Config.load({"secret_key": SECRET, "storage": "redis://127.0.0.1:9/0"})
    with LogSource(log("webhawk-2018-12-15.log")) as source:
        s = replay_lines(source, config).tally.summary()
    assert s["clients_by_action"]["throttle"] == 1
    assert not any(r["rule"] == "storage" for r in s["by_rule"])


# -- CLI and HTML report ---------------------------------------------------------------------

def test_cli_replay_writes_summary_json_and_html(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    html, summary = tmp_path / "report.html", tmp_path / "summary.json"
    code = main(["replay", log("webhawk-2018-12-15.log"), "--html", str(html),
                 "--json", str(summary), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(summary.read_text())
    assert f"requests replayed: {data['requests']:,}" in out
    assert "198.72.227.213" in out and "budget:ip" in out
    page = html.read_text()
    assert page.count('<svg id="plot-') == 3
    assert page.count('<svg class="spark"') == len(data["top_offenders"])
    assert "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "").split("<h2>By rule")[0]
    assert "<script" not in page.lower() and "<link" not in page.lower()


def test_cli_workers_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = log("webhawk-2021.log")
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    assert main(["replay", path, "--workers", "1", "--json", str(one), "--no-progress"]) == 0
    assert main(["replay", path, "--workers", "2", "--json", str(two), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "(2 worker processes)" in captured.out and "2 worker(s) as asked" in captured.err
    assert json.loads(one.read_text()) == json.loads(two.read_text())
    with pytest.raises(SystemExit):
        main(["replay", path, "--workers", "0"])
    assert "expected 1 to 64" in capsys.readouterr().err


def test_cli_truncated_gzip_fails_cleanly_with_workers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every worker reads the file; an error in any of them ends the run with one line."""
    packed = access_log("elastic-apache.log").read_bytes()  # the corpus is gzip already
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    assert main(["replay", str(cut), "--workers", "2", "--no-progress"]) == 1
    assert "failed" in capsys.readouterr().err


def test_cli_replay_unreadable_file_fails_cleanly(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path / "missing.log")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_report_escapes_log_text() -> None:
    evil = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
    lines = [clf("203.0.113.66", "01/Jan/2024:00:00:00 +0000", "/", ua="")]
    lines += [clf("203.0.113.66", "01/Jan/2024:00:00:01 +0000", "/", ua=evil)]
    page = render_report(replay_lines(lines, CONFIG).tally.summary(), source=evil)
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;" in page


@pytest.mark.slow
@pytest.mark.browser
def test_html_report_renders_its_plots_in_chromium(tmp_path: Path, browser_page) -> None:
    evil = '<script>window.pwned=1</script>'
    html = tmp_path / "report.html"
    assert main(["replay", log("webhawk-2018-12-15.log"), "--html", str(html),
                 "--no-progress"]) == 0
    # A hostile agent string in the log must stay text in the rendered page.
    html.write_text(html.read_text().replace("</body>", f"<p>{evil.replace('<', '&lt;')}</p>"
                                             "</body>"))
    browser_page.goto(html.as_uri())
    sizes = browser_page.evaluate(
        "JSON.stringify([...document.querySelectorAll('svg.plot')].map(s => {"
        "const r = s.getBoundingClientRect(); return [s.id, r.width, r.height,"
        " s.querySelectorAll('rect.bar, polyline').length,"
        " s.querySelectorAll('.threshold').length]; }))")
    plots = {p[0]: p[1:] for p in json.loads(sizes)}
    assert set(plots) == {"plot-scores", "plot-whatif", "plot-offenders"}
    for plot_id, (width, height, marks, _) in plots.items():
        assert width > 300 and height > 150 and marks > 0, plot_id
    assert plots["plot-scores"][3] == 2 and plots["plot-whatif"][3] == 2  # both thresholds
    assert browser_page.evaluate("typeof window.pwned") == "undefined"
    shot = browser_page.call("Page.captureScreenshot", {"format": "png",
                                                        "captureBeyondViewport": True})
    png = base64.b64decode(shot["data"])
    (tmp_path / "report.png").write_bytes(png)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_truncated_user_agent_is_kept() -> None:
    """elastic-apache.log line 8899: the server cut the agent before its closing quote."""
    rec = combined_parser()('46.118.127.106 - - [20/May/2015:12:05:17 +0000] "GET /x HTTP/1.1" '
                            '200 235 "-" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www')
    assert rec is not None and rec.user_agent == "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www"


#: Words of the report's table cells that a line break cuts in two (a Range over one word
#: yields one box per line it spans; after a hyphen is a line's normal place to end), and
#: tick labels of the time axis outside its SVG.
REPORT_LAYOUT_JS = """JSON.stringify({
  broken: [...document.querySelectorAll('td')].flatMap(td => {
    const out = [];
    const walk = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
    for (let node = walk.nextNode(); node; node = walk.nextNode()) {
      for (const m of node.data.matchAll(/[^\\s-]+/g)) {
        if (m[0].length > 40) continue;  // a token longer than a cell may wrap inside
        const r = document.createRange();
        r.setStart(node, m.index); r.setEnd(node, m.index + m[0].length);
        const tops = new Set([...r.getClientRects()].map(b => Math.round(b.top)));
        if (tops.size > 1) out.push(m[0]);
      }
    }
    return out;
  }),
  ticks: [...document.querySelectorAll('#plot-offenders text.tick')].map(t => {
    const b = t.getBBox(); return [t.textContent, b.x, b.x + b.width];
  }),
  breaks: document.querySelectorAll('#plot-offenders text.break').length,
  tables: Object.fromEntries([...document.querySelectorAll('table')].map(t => [t.id,
    [...t.tBodies[0].rows].map(r => [...r.cells].map(c => c.textContent))]))
})"""


@pytest.mark.slow
@pytest.mark.browser
def test_html_report_of_a_multi_year_log_reads_right_in_chromium(
        tmp_path: Path, browser_page) -> None:
    """The four public logs back to back (2015 to 2021): the report at a desktop and a phone
    width, its own numbers read back from the rendered page and checked against the replay
    summary. Screenshots land in ``tmp_path`` (or ``$ANTISCRAPE_SCREENSHOTS``) to look at."""
    log, html, summary = tmp_path / "years.log.gz", tmp_path / "years.html", tmp_path / "s.json"
    log.write_bytes(gzip.compress(b"".join(read_bytes(f"access-logs/{name}") for name in (
        "elastic-apache.log", "hackers-access.log", "webhawk-2018-12-15.log",
        "webhawk-2021.log"))))
    assert main(["replay", str(log), "--html", str(html), "--json", str(summary),
                 "--no-progress"]) == 0
    s = json.loads(summary.read_text())
    shots = Path(os.environ.get("ANTISCRAPE_SCREENSHOTS") or tmp_path)
    for width in (1280, 390):
        browser_page.resize(width)
        browser_page.goto(html.as_uri())
        png = browser_page.screenshot(shots / f"replay-report-{width}.png")
        assert png.startswith(b"\x89PNG") and len(png) > 20_000
        page = json.loads(browser_page.evaluate(REPORT_LAYOUT_JS))
        assert page["broken"] == [], width  # no word split across two lines
        for text, left, right in page["ticks"]:  # every time label has its year, unclipped
            assert re.match(r"20(15|18|21)-\d\d-\d\d", text), text
            assert left >= 0 and right <= 720, (text, left, right)
        assert {t[0][:4] for t in page["ticks"]} >= {"2015", "2018"}
        assert page["breaks"] >= 1  # captures years apart: periods side by side
        tables = page["tables"]
        assert [[r[0], number(r[1]), number(r[2])] for r in tables["totals"]] == [
            [a, s["clients_by_action"][a], s["requests_by_action"][a]]
            for a in ("allow", "throttle", "challenge", "block")]
        rows = [[r[0], r[1], number(r[4]), number(r[5])] for r in tables["offenders"]]
        assert rows == [[o["client"], o["action"], o["requests"], o["flagged"]]
                        for o in s["top_offenders"]]
    # Ranked by refused requests, then requests: the python-requests client throttled 3,159
    # times out of 4,156 leads, ahead of clients challenged on their only requests.
    assert rows[0] == ["198.72.227.213", "throttle", 4156, 3159]
    assert [(r[3], r[2]) for r in rows] == sorted(((r[3], r[2]) for r in rows), reverse=True)


def number(text: str) -> int:
    return int(text.replace(",", ""))

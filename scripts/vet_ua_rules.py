"""Vet the external crawler patterns against real browsers and apps; write what survives.

Run from the repository root with the dev extras installed:

    .venv/bin/python scripts/vet_ua_rules.py

Training corpora only (see tests/data/README.md; the held-out ones are never read here):
- people: Matomo Device Detector's labelled test fixtures, shipped in the ``device-detector``
  package (browsers, mobile apps, feed readers, media players...: everything not a bot or a
  library);
- patterns: the ``crawler-user-agents`` package's list, and the AI crawler names of
  tests/data/ua/ai-robots.json.gz.

A pattern that matches any person's string is tried again inside word boundaries ("anchored");
if it still matches, it is dropped. Kept patterns go to antiscrape/data/crawler_patterns.txt,
what was anchored or dropped (and the string that condemned it) to
antiscrape/data/crawler_patterns_dropped.tsv. The project's own word lists are checked the same
way and reported; the script exits non-zero if any of them matches a person's string, so a
change to them is vetted before it ships.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import crawleruseragents
import re2
import ua_parser
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from antiscrape import uarules, useragent  # noqa: E402
from tests.corpora import read_json  # noqa: E402

DATA = ROOT / "antiscrape" / "data"
NOT_PEOPLE = {"bot", "library"}


def device_detector_fixtures() -> tuple[list[str], list[str]]:
    """(people, automated) user agents from Device Detector's labelled fixtures."""
    fixtures = resources.files("device_detector") / "tests" / "fixtures" / "upstream"
    people: list[str] = []
    automated: list[str] = []
    for path in sorted(fixtures.iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".yml"):
            continue
        for entry in yaml.load(path.read_text(), Loader=yaml.CSafeLoader) or ():
            ua = entry.get("user_agent")
            if not ua:
                continue
            client = entry.get("client")
            kind = "bot" if path.name == "bots.yml" else \
                (client.get("type") if isinstance(client, dict) else None)
            (automated if kind in NOT_PEOPLE else people).append(ua)
    return sorted(set(people)), sorted(set(automated))


def external_patterns() -> list[tuple[str, str]]:
    """(source, pattern) of every external pattern, in list order."""
    out = [("crawler-user-agents", entry["pattern"])
           for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA]
    robots = read_json("ua/ai-robots.json")
    out += [("ai-robots", r"\b" + re2.escape(name) + r"\b") for name in sorted(robots)]
    return out


def _options() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.max_mem = 256 << 20
    return options


def first_match(pattern: str, corpus: list[str], joined: str) -> str | None:
    """The first corpus string ``pattern`` matches, or None (one pass over the joined text
    first: most patterns match nothing, and that answer costs one search)."""
    try:
        compiled = re2.compile(pattern, options=_options())
    except re2.error:
        return "<does not compile>"
    if compiled.search(joined) is None:
        return None
    for ua in corpus:
        if compiled.search(ua):
            return ua
    return None  # the match spanned two lines: no single string matches


def vet(patterns: list[tuple[str, str]], people: list[str]) -> tuple[list[str], list[str]]:
    joined = "\n".join(people)
    kept: list[str] = []
    report: list[str] = []
    for source, pattern in patterns:
        # Patterns anchored with ^ or $ must not match across the joined lines' boundaries.
        hit = first_match(pattern.replace("^", r"(?m:^)").replace("$", r"(?m:$)")
                          if ("^" in pattern or "$" in pattern) else pattern, people, joined)
        if hit is None:
            kept.append(pattern)
            continue
        anchored = r"\b(?:" + pattern + r")\b"
        again = first_match(anchored, people, joined) if hit != "<does not compile>" else hit
        if again is None:
            kept.append(anchored)
            report.append(f"anchored\t{source}\t{pattern}\t{hit}")
        else:
            report.append(f"dropped\t{source}\t{pattern}\t{again}")
    return sorted(set(kept)), report


def check_own_rules(people: list[str]) -> list[str]:
    """People's strings our own crawler words or service tokens call automated, judged as the
    classifier judges them (device models in an Android comment do not count)."""
    ruleset = uarules.rules()
    bad = []
    for ua in people:
        found = ruleset.evidence(ua)
        if found.words and useragent._crawler_words(ua):
            bad.append(f"words\t{ua}")
        elif found.service:
            bad.append(f"service\t{ua}")
    return bad


def is_bot_margin(people: list[str], automated: list[str]) -> tuple[list[str], list[str]]:
    """What ``ua-parser``'s ``is_bot`` (device family "Spider") would add to the classifier:
    (people it would newly flag, automated strings it would newly catch). The classifier
    leaves it out while the first list is not empty and the second adds nothing the first
    does not cost (and the device parse it needs costs as much as the rest of a parse)."""
    parser = ua_parser.Parser(ua_parser.RegexResolver(ua_parser.load_lazy_builtins()))

    def is_bot(ua: str) -> bool:
        device = parser.parse_device(ua)
        return device is not None and device.family == "Spider"

    def new(corpus: list[str]) -> list[str]:
        return [ua for ua in corpus if is_bot(ua) and not useragent.classify(ua).automated]

    return new(people), new(automated)


def main() -> int:
    people, automated = device_detector_fixtures()
    print(f"training people: {len(people)}, training automated: {len(automated)}")
    patterns = external_patterns()
    kept, report = vet(patterns, people)
    DATA.mkdir(exist_ok=True)
    (DATA / "crawler_patterns.txt").write_text(
        "# Written by scripts/vet_ua_rules.py: crawler-user-agents patterns and ai-robots\n"
        "# names that match no browser or app of the training corpora. Do not edit by hand.\n"
        + "\n".join(kept) + "\n")
    (DATA / "crawler_patterns_dropped.tsv").write_text(
        "action\tsource\tpattern\tperson's user agent it matched\n" + "\n".join(report) + "\n")
    dropped = sum(line.startswith("dropped") for line in report)
    print(f"external patterns: {len(patterns)}, kept {len(kept)} "
          f"({len(report) - dropped} anchored), dropped {dropped}")
    flagged, caught = is_bot_margin(people, automated)
    print(f"ua-parser is_bot would newly flag {len(flagged)} people and catch {len(caught)} "
          f"automated strings (left out of the classifier)")
    for ua in flagged:
        print("  is_bot flags a person:", ua)
    bad = check_own_rules(people)
    for line in bad:
        print("own rule matches a person:", line)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())

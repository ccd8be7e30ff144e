"""Vet the external crawler patterns against real browsers and apps; write what survives.

Run from the repository root with the dev extras installed:

    .venv/bin/python scripts/vet_ua_rules.py

Training corpora only (see tests/data/README.md; the held-out ones are never read here):
- people: Matomo Device Detector's labelled test fixtures, shipped in the ``device-detector``
  package (browsers, mobile apps, feed readers, media players...: everything not a bot or a
  library), woothee's labelled test sets (tests/data/ua/woothee-testsets.tsv.gz: PCs, phones,
  feature phones, appliances, feed readers) and the most common browser strings of today
  (tests/data/ua/top-user-agents.txt.gz);
- automated: Device Detector's bots and libraries, woothee's crawlers and HTTP libraries, the
  ``crawler-user-agents`` package's example instances;
- patterns: the ``crawler-user-agents`` package's list, and the AI crawler names of
  tests/data/ua/ai-robots.json.gz.

A pattern that matches any person's string is tried again inside word boundaries ("anchored");
if it still matches, it is dropped. Kept patterns go to antiscrape/data/crawler_patterns.txt,
what was anchored or dropped (and the string that condemned it) to
antiscrape/data/crawler_patterns_dropped.tsv.

One person's string condemns no pattern when the sources disagree about it: a string that
``ua-parser``'s own rules (uap-core) call a bot is *contested* (one source says person, two say
automated: uap-core and the pattern's list), so it is set aside and reported instead.

The project's own word lists are checked the same way and reported; the script exits non-zero
if any of them matches a person's string, so a change to them is vetted before it ships.
Last, it prints how the finished classifier does on each training corpus.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import crawleruseragents
import re2
import ua_parser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from antiscrape import uarules, useragent  # noqa: E402
from tests.corpora import read_json  # noqa: E402
from tests.ua_corpora import Training, training_corpora  # noqa: E402

DATA = ROOT / "antiscrape" / "data"


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


def uap_bot() -> Callable[[str], bool]:
    """uap-core's verdict through ``ua-parser``: the device family "Spider" means a bot."""
    parser = ua_parser.Parser(ua_parser.RegexResolver(ua_parser.load_lazy_builtins()))

    def is_bot(ua: str) -> bool:
        device = parser.parse_device(ua)
        return device is not None and device.family == "Spider"

    return is_bot


def uncontested(people: list[str], is_bot: Callable[[str], bool]) -> tuple[list[str], list[str]]:
    """(people's strings no other source disputes, the contested ones uap-core calls bots)."""
    contested = [ua for ua in people if is_bot(ua)]
    disputed = set(contested)
    return [ua for ua in people if ua not in disputed], contested


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


def tools_on_people(people: list[str]) -> list[str]:
    """People's strings an automation tool's pattern names (reported: an app built on an HTTP
    library says so, "... OkHttp/4.9", and is judged by the library it names)."""
    ruleset = uarules.rules()
    return [f"{tool}\t{ua}" for ua in people if (tool := ruleset.evidence(ua).tool)]


def training_rates(corpora: list[Training]) -> list[str]:
    """How the finished classifier does on each training corpus (not a held-out measure)."""
    lines = []
    for corpus in corpora:
        if corpus.people:
            flagged = sum(useragent.classify(ua).automated for ua in corpus.people)
            lines.append(f"{corpus.name}: people {len(corpus.people)}, flagged {flagged} "
                         f"({flagged / len(corpus.people):.3%})")
        if corpus.automated:
            caught = sum(useragent.classify(ua).automated for ua in corpus.automated)
            lines.append(f"{corpus.name}: automated {len(corpus.automated)}, caught {caught} "
                         f"({caught / len(corpus.automated):.2%})")
    return lines


def is_bot_margin(people: list[str], automated: list[str],
                  is_bot: Callable[[str], bool]) -> tuple[list[str], list[str]]:
    """What ``ua-parser``'s ``is_bot`` would add to the classifier: (people it would newly
    flag, automated strings it would newly catch). The classifier leaves it out while the
    first list is not empty and the second adds nothing the first does not cost (and the
    device parse it needs costs as much as the rest of a parse)."""

    def new(corpus: list[str]) -> list[str]:
        return [ua for ua in corpus if is_bot(ua) and not useragent.classify(ua).automated]

    return new(people), new(automated)


def main() -> int:
    corpora = training_corpora()
    people = sorted({ua for c in corpora for ua in c.people})
    automated = sorted({ua for c in corpora for ua in c.automated})
    print(f"training people: {len(people)}, training automated: {len(automated)}")
    is_bot = uap_bot()
    judges, contested = uncontested(people, is_bot)
    for ua in contested:
        print("contested (uap-core calls it a bot), condemns no pattern:", ua)
    patterns = external_patterns()
    kept, report = vet(patterns, judges)
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
    uarules.rules.cache_clear()  # what the classifier ships from now on
    flagged, caught = is_bot_margin(people, automated, is_bot)
    print(f"ua-parser is_bot would newly flag {len(flagged)} people and catch {len(caught)} "
          f"automated strings (left out of the classifier)")
    for ua in flagged:
        print("  is_bot flags a person:", ua)
    for line in tools_on_people(judges):
        print("tool named by a person's app:", line)
    for line in training_rates(corpora):
        print(line)
    bad = check_own_rules(judges)
    for line in bad:
        print("own rule matches a person:", line)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())

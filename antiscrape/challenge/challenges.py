"""The challenge component the engine calls: issue, verify, redeem once, clear.

Issuing is pure (a signed token inside the page, no storage). Verifying costs one HMAC, one
SHA-256 and a string comparison; redeeming adds one ``PutIfAbsent`` in the engine's storage
batch so an answer counts once. A correct answer earns a clearance cookie bound to the
client's network prefix and user agent, never to its exact IP: dual-stack browsers and
carrier-grade NAT change the address between requests and must not loop through challenges.
"""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, quote

from ..clock import Clock
from ..config import ChallengeRung, Config, parse_networks, parse_rate
from ..cookies import CookiePolicy
from ..decision import Action, Decision, Identity, Reply
from ..keys import Keys
from ..plan import Plan
from ..replies import refusal, wants_html
from ..request import RequestView, cookie_value
from ..state.ops import Get, Hit, Incr, Op, PutIfAbsent
from ..throttle import Rate, retry_after
from ..useragent import lookup
from . import pages
from . import traits as automation_traits
from .return_path import is_safe_return_path, safe_return_path
from .tokens import (
    AUTOMATED,
    ChallengeToken,
    ClearanceToken,
    Signer,
    leading_zero_bits_ok,
    random_id,
)

CLOCK_SKEW = 60
"""Seconds a token's issue time may lie in the future (several servers, slightly apart)."""

_NEVER = float("inf")

_NONCE = re.compile(r"[0-9]{1,15}")

WORKER = "worker.js"
VERIFY = "verify"
NOJS = "nojs"


class Challenges:
    """Proof-of-work challenges, the no-JavaScript wait fallback and the clearance cookie."""

    def __init__(self, config: Config, clock: Clock, keys: Keys) -> None:
        self.settings = config.challenge
        self._clock = clock
        self._keys = keys
        self._fail_prefix = keys("challenge-fail", "")  # built once: asked for on every request
        self._answer_budget = answer_budget(config, keys)
        self._cookies = CookiePolicy(config.cookie_secure,
                                     parse_networks(config.trusted_proxies, "trusted_proxies"),
                                     config.forwarded_header)
        self._fail_open = config.fail == "open"
        # Without a configured key (debug only; Config refuses it otherwise) the tokens are
        # signed with a random per-process key: they stop verifying on restart, nothing worse.
        self._signer = Signer(config.signing_keys or (os.urandom(32),))
        prefix = self.settings.path_prefix
        self._prefix = prefix
        self._verify_url = prefix + VERIFY
        self._worker_url = prefix + WORKER
        self._nojs_url = prefix + NOJS

    # -- pure reads ------------------------------------------------------------------------

    def binding(self, network: str, user_agent: str, key_index: int = 0) -> str:
        """Keyed hash tying a token to a network prefix and a user agent (not the exact IP)."""
        return self._signer.binding(network + "|" + user_agent, key_index)

    def rung(self, score: int) -> ChallengeRung:
        """The ladder's rung for a risk score: the first whose ``max_score`` covers it."""
        ladder = self.settings.ladder
        for rung in ladder:
            if score <= rung.max_score:
                return rung
        return ladder[-1]

    def read_clearance(self, view: RequestView, network: str) -> str | None:
        """The clearance id of a valid cookie for this network + UA, else None. No I/O."""
        return self.clearance(self.clearance_cookie(view), network, view.header("user-agent"))[0]

    def clearance_cookie(self, view: RequestView) -> str | None:
        """The raw clearance cookie, unverified (what a returning client sends unchanged)."""
        return cookie_value(view.header("cookie"), self.settings.cookie_name)

    def clearance(self, raw: str | None, network: str, user_agent: str
                  ) -> tuple[str | None, float]:
        """(clearance id, time it stops being valid) of a raw cookie for this network + UA;
        (None, inf) when there is none or it is not valid. The expiry lets the engine keep
        what it derived from the clearance exactly as long as the clearance holds."""
        if raw is None:
            return None, _NEVER
        token = ClearanceToken.decode(self._signer, raw)
        if token is None:
            return None, _NEVER
        now = self._clock()
        # Validity is judged with today's clearance_ttl, so shortening it takes effect at once.
        until = token.issued + self.settings.clearance_ttl
        if not token.issued - CLOCK_SKEW <= now < until:
            return None, _NEVER
        bind = self.binding(network, user_agent, token.key_index)
        if not hmac.compare_digest(token.bind, bind):
            return None, _NEVER
        return token.id, until

    def is_endpoint(self, path: str) -> bool:
        return path.startswith(self._prefix)

    def failure_key(self, identity: Identity, user_agent: str) -> str:
        """Counter of challenge pages shown and not yet answered, per client address and
        browser: people behind one NAT gateway (an office, carrier-grade NAT) are not blocked
        for challenges a neighbour has not answered yet, as a network or address key would
        do. Both parts are hashed (and cached). Answers are never counted here: anyone behind
        the same address can send one with any user agent (see ``answer_failure_key``)."""
        hashed = self._keys.hashed
        return self._fail_prefix + hashed(identity.ip) + ":" + hashed(user_agent)

    def answer_failure_key(self, challenge_id: str) -> str:
        """Wrong and replayed answers to one challenge: they count against the challenge,
        whose id only the client it was issued to (and whoever it shares it with) holds."""
        return self._keys("challenge-answer-fail", challenge_id)

    def spent_key(self, challenge_id: str) -> str:
        return self._keys("challenge-spent", challenge_id)

    # -- issuing ---------------------------------------------------------------------------

    def challenge(self, view: RequestView, identity: Identity, score: int, reason: str,
                  status: int | None = None) -> Reply:
        """The answer to a challenged request: an HTML page or a problem+json document.

        ``reason`` is for logs only: telling a scraper which signal caught it would teach it
        what to fix, so it never reaches the client.
        """
        del reason
        if status is None or not 400 <= status <= 599:
            status = self.settings.status
        rung = self.rung(score)
        now = self._clock()
        token = ChallengeToken(
            id=random_id(),
            issued=int(now * 1000),
            difficulty=rung.difficulty,
            wait=rung.wait,
            bind=self.binding(identity.network, view.header("user-agent")),
            return_to=safe_return_path(view.path, view.query),
        )
        encoded = token.encode(self._signer)
        if wants_html(view.header("accept")):
            return self._page(token, encoded, status, rung.wait)
        return pages.problem(
            status, "challenge-required", "Challenge required",
            "This resource is protected against automated collection. Open it in a web "
            "browser, or solve the proof-of-work described in 'challenge' and send the answer "
            "to obtain a clearance cookie.",
            challenge={
                "algorithm": "sha256-leading-zero-bits",
                "input": "<seed>:<nonce>",
                "seed": token.id,
                "difficulty": token.difficulty,
                "wait": token.wait,
                "expires": int(now) + self.settings.challenge_ttl,
                "answer": {"method": "POST", "url": self._verify_url,
                           "query": {"t": encoded, "n": "<nonce as decimal digits>"}},
            },
            clearance={"cookie": self.settings.cookie_name,
                       "ttl": self.settings.clearance_ttl},
        )

    def _page(self, token: ChallengeToken, encoded: str, status: int, remaining: float) -> Reply:
        quoted = quote(encoded, safe="")
        data = pages.PageData(
            token=encoded,
            seed=token.id,
            difficulty=token.difficulty,
            wait=token.wait,
            remaining=remaining,
            verify_url=self._verify_url,
            worker_url=self._worker_url,
            nojs_url=f"{self._nojs_url}?t={quoted}" if self.settings.nojs_fallback else None,
            return_to=token.return_to,
        )
        return pages.challenge_page(data, status)

    # -- the endpoints ---------------------------------------------------------------------

    def endpoint(self, view: RequestView, identity: Identity, score: int,
                 people: tuple[int, int] = (1, 1)) -> Plan:
        """Serve the worker script, check a proof-of-work answer, or the no-JS wait answer.

        ``people``: the people seen behind the IP and the network (see
        ``antiscrape.people``), which multiply their answer budgets like their other
        budgets: an office whose people all meet the challenge at once answers it fifty
        times a minute."""
        name = view.path[len(self._prefix):]
        method = view.method.upper()
        if name == WORKER and method in ("GET", "HEAD"):
            return Plan.decided(Decision(Action.ALLOW, "challenge:worker", score=score,
                                       reply=pages.worker_script(), identity=identity))
        if name == VERIFY:
            if method != "POST":
                return Plan.decided(self._rejected(view, identity, score, "method", None, 405))
            return self._budgeted(view, identity, score,
                                  self._answer(view, identity, score, nojs=False), people)
        if name == NOJS and self.settings.nojs_fallback and method in ("GET", "POST"):
            return self._budgeted(view, identity, score,
                                  self._answer(view, identity, score, nojs=True), people)
        return Plan.decided(self._rejected(view, identity, score, "not-found", None, 404))

    def _budgeted(self, view: RequestView, identity: Identity, score: int, plan: Plan,
                  people: tuple[int, int]) -> Plan:
        """An answer counted against its IP's and network's answer budgets (times the people
        behind each), in the same batch: over either budget the reply is a 429, whatever
        the answer was."""
        hits = tuple(Hit(prefix + self._keys.hashed(who), rate.window,
                         rate.amount * (people[0] if rate.level == "ip" else people[1]))
                     for rate, prefix in self._answer_budget
                     if (who := getattr(identity, rate.level)))
        if not hits:
            return plan
        n = len(hits)

        def over(results: Sequence[Any]) -> float | None:
            resets = [r.reset for r in results[:n] if not r.counted]
            return max(resets) if resets else None

        def finish(results: Sequence[Any]) -> Decision:
            reset = over(results)
            if reset is None:
                return plan.finish(results[n:])
            return Decision(Action.THROTTLE, "challenge:answer-budget", score=score,
                            retry_after=retry_after(reset), identity=identity,
                            reply=refusal(429, "too many answers", view.header("accept"),
                                          retry_after(reset)))

        def then(results: Sequence[Any], decision: Decision) -> Sequence[Op]:
            if plan.then is None or over(results) is not None:
                return ()
            return plan.then(results[n:], decision)

        return Plan(ops=(*hits, *plan.ops), finish=finish, failed=plan.failed, then=then)

    def _answer(self, view: RequestView, identity: Identity, score: int, *,
                nojs: bool) -> Plan:
        try:
            params = parse_qs(view.query, max_num_fields=8)
        except ValueError:  # too many fields: no browser of ours sends that
            params = {}
        encoded = (params.get("t") or [""])[0]
        nonce = "0" if nojs else (params.get("n") or [""])[0]
        seen = automation_traits.parse((params.get("a") or [""])[0])
        token = ChallengeToken.decode(self._signer, encoded)
        now = self._clock()
        why = self._check(token, nonce, view, identity, now, nojs)
        if why == "early" and token is not None:
            # A browser that came back before its wait ended (a person clicking early): show
            # the wait again. No failure is counted, and the page offers nothing new.
            remaining = token.issued / 1000 + token.wait - now
            return Plan.decided(Decision(
                Action.CHALLENGE, "challenge:early", score=score, identity=identity,
                reply=self._page(token, encoded, self.settings.status, remaining)))
        if token is None:  # not a challenge of ours: nobody to count it against
            return Plan.decided(self._rejected(view, identity, score, "invalid", None))
        ttl = self.settings.challenge_ttl + CLOCK_SKEW
        fail_key = self.answer_failure_key(token.id)
        if why is not None:
            failed = self._rejected(view, identity, score, why, token)
            return Plan(ops=(Incr(fail_key, ttl),), finish=lambda _r: failed,
                        failed=lambda: failed)
        spend = PutIfAbsent(self.spent_key(token.id), "1", ttl)

        def finish(results: Sequence[Any]) -> Decision:
            if int(results[2] or 0) >= self.settings.max_failures:
                return self._rejected(view, identity, score, "void", token)
            if bool(results[0]):  # stored now: the first redemption
                return self._cleared(view, identity, score, token, now, seen)
            return self._rejected(view, identity, score, "replayed", token)

        def storage_down() -> Decision:
            # The answer is verified; only the once-only check is missing. Failing open lets
            # the browser in (budgets still apply); failing closed asks it to retry later.
            if self._fail_open:
                return self._cleared(view, identity, score, token, now, seen)
            return self._rejected(view, identity, score, "unavailable", token, 503)

        def settle(results: Sequence[Any], _decision: Decision) -> Sequence[Op]:
            # A replay is only known once the once-only store has answered; counting it as a
            # failure costs a second round trip, paid by the replaying client alone. A first
            # redemption settles what is pending: every challenge page this client was shown
            # counted as a failure until answered (so abandoned ones stay counted), and a
            # solved one takes the count back to zero.
            if not bool(results[0]) or int(results[2] or 0) >= self.settings.max_failures:
                return (Incr(fail_key, ttl),)
            pending = int(results[1] or 0)
            if pending > 0:
                return (Incr(self.failure_key(identity, view.header("user-agent")),
                             self.settings.failure_window,
                             -pending),)
            return ()

        return Plan(ops=(spend, Get(self.failure_key(identity, view.header("user-agent"))),
                         Get(fail_key)),
                    finish=finish,
                    failed=storage_down, then=settle)

    def _check(self, token: ChallengeToken | None, nonce: str, view: RequestView,
               identity: Identity, now: float, nojs: bool) -> str | None:
        """Why an answer is refused (a short word for logs), or None when it is good."""
        if token is None:
            return "invalid"
        issued = token.issued / 1000
        if not issued - CLOCK_SKEW <= now < issued + self.settings.challenge_ttl:
            return "expired"
        bind = self.binding(identity.network, view.header("user-agent"), token.key_index)
        if not hmac.compare_digest(token.bind, bind):
            return "other-client"
        if not _NONCE.fullmatch(nonce):
            return "malformed"
        if nojs or token.difficulty == 0:
            if now < issued + token.wait:
                return "early"
            return None
        if not leading_zero_bits_ok(token.id, nonce, token.difficulty):
            return "wrong-answer"
        return None

    def pending_op(self, identity: Identity, view: RequestView) -> Op:
        """Counted when a challenge page is shown: an answer settles it, an abandoned
        challenge stays counted like a failed one."""
        return self._count_failure(identity, view)

    def _count_failure(self, identity: Identity, view: RequestView) -> Op:
        return Incr(self.failure_key(identity, view.header("user-agent")),
                    ttl=self.settings.failure_window)

    # -- outcomes --------------------------------------------------------------------------

    def _cleared(self, view: RequestView, identity: Identity, score: int,
                 token: ChallengeToken, now: float, seen: str) -> Decision:
        """The clearance cookie and the way back. An automated solver (traits the page saw,
        or an automated user agent) gets a clearance marked so: it keeps its automation
        score and budget (see :func:`.tokens.is_automated`)."""
        user_agent = view.header("user-agent")
        if lookup(user_agent).automated:
            seen = automation_traits.parse(seen + ".automation-ua")
        # Re-bound under the current first key, in case the challenge predates a rotation.
        bind = self.binding(identity.network, user_agent)
        # A browser that kept its visitor cookie is cleared under its visitor's id: a new
        # clearance then continues the counts of the last one (and of the visitor) instead of
        # starting afresh, so solving again buys nothing.
        clearance = ClearanceToken(id=(AUTOMATED if seen else "") + (identity.visitor or
                                                                     random_id()),
                                   issued=int(now), bind=bind, traits=seen)
        cookie = self._cookies.set_cookie(view, self.settings.cookie_name,
                                          clearance.encode(self._signer),
                                          self.settings.clearance_ttl)
        target = token.return_to if is_safe_return_path(token.return_to) else "/"
        reply = Reply(303, (("location", target), ("set-cookie", cookie),
                            ("cache-control", "no-store"),
                            ("content-type", "text/plain; charset=utf-8")), b"")
        return Decision(Action.ALLOW, "challenge:passed", score=score, reply=reply,
                        identity=replace(identity, clearance=clearance.id))

    def _rejected(self, view: RequestView, identity: Identity, score: int, why: str,
                  token: ChallengeToken | None, status: int | None = None) -> Decision:
        status = status or self.settings.status
        again = token.return_to if token and is_safe_return_path(token.return_to) else "/"
        title, text = _EXPLAIN.get(why, _EXPLAIN["invalid"])
        if wants_html(view.header("accept")):
            reply = pages.message_page(status, title, text, again, "failed")
        else:
            reply = pages.problem(status, "challenge-failed", title, text, reason=why,
                                  retry=again)
        action = Action.ALLOW if status in (404, 405) else Action.CHALLENGE
        return Decision(action, f"challenge:{why}", score=score, reply=reply, identity=identity)


_EXPLAIN: dict[str, tuple[str, str]] = {
    "invalid": ("The check did not succeed",
                "The answer to the browser check was not valid. Please try again."),
    "malformed": ("The check did not succeed",
                  "The answer to the browser check was not valid. Please try again."),
    "wrong-answer": ("The check did not succeed",
                     "The answer to the browser check was wrong. Please try again."),
    "expired": ("The check has expired",
                "The browser check took too long and has expired. Please try again."),
    "other-client": ("The check did not succeed",
                     "The browser check was started from another network or browser. "
                     "Please try again."),
    "replayed": ("The check was already used",
                 "This browser check has already been answered. Please try again."),
    "void": ("The check did not succeed",
             "This browser check was answered wrongly too often. Please try again."),
    "unavailable": ("Please try again shortly",
                    "The browser check cannot be completed right now."),
    "method": ("Not allowed", "Answers to the browser check are sent with POST."),
    "not-found": ("Not found", "There is nothing here."),
}


def answer_budget(config: Config, keys: Keys) -> tuple[tuple[Rate, str], ...]:
    """The answer endpoints' budgets per IP and network, with their key prefixes: every
    answer is checked (one HMAC, one SHA-256) and may write state, so a flood of them is
    budgeted like any route, before any of that work counts."""
    out = []
    settings = config.challenge
    for level, text in (("ip", settings.answers_per_ip),
                        ("network", settings.answers_per_network)):
        item = parse_rate(text, f"challenge.answers_per_{level}")
        if item is not None:
            out.append((Rate(level, item.amount, item.get_expiry()),
                        keys("challenge-answers", level, "")))
    return tuple(out)

"""Every page and JSON body of the shop, framework-neutral.

The three example apps only route requests here and wrap the ``Answer`` in their own response
type, so what differs between them is exactly what a developer copies: the antiscrape wiring.
Everything user-visible is HTML-escaped; phone numbers only ever leave masked (antiscrape's
``mask_phone`` in pages, ``mask_json`` on API payloads).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from antiscrape.masking import mask_json, mask_phone

from .shop_data import COMMENTS_PER_PAGE, Shop, User, build_shop
from .shop_ids import IdCodec, IdMode


@dataclass(frozen=True, slots=True)
class Answer:
    """A framework-neutral response: each app turns it into its own response object."""

    status: int
    body: str
    content_type: str = "text/html; charset=utf-8"
    json: Any = None
    """For API answers: the payload (``body`` is then empty and the app serialises it)."""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _layout(title: str, body: str, account: str | None) -> str:
    who = (f'signed in as <b>{_e(account)}</b> · <a href="/logout">sign out</a>'
           if account else '<a href="/login">sign in</a>')
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width'><title>{_e(title)} · Demo shop"
        "</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem "
        "auto;padding:0 1rem}li{margin:.2rem 0}.muted{color:#666}</style></head><body>"
        f'<header><a href="/">Demo shop</a> · <span class=muted>{who}</span></header>'
        f"<main><h1>{_e(title)}</h1>{body}</main></body></html>"
    )


def _not_found(what: str, account: str | None) -> Answer:
    return Answer(404, _layout("Not found", f"<p>No such {_e(what)}.</p>", account))


def _api_error(status: int, detail: str) -> Answer:
    return Answer(status, "", "application/json", {"error": detail})


def parse_page(raw: str | None) -> int | None:
    """The ``page`` query value: missing means 1; junk or non-positive means None (a 400)."""
    if raw is None or raw == "":
        return 1
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        return None
    page = int(raw)
    return page if page >= 1 else None


class ShopSite:
    """The shop's pages over one seeded ``Shop`` and one id codec."""

    def __init__(self, ids: IdMode = "sequential", secret: str = "example-shop") -> None:
        self.shop: Shop = build_shop()
        self.ids = IdCodec(ids, secret)

    # -- ids -------------------------------------------------------------------------------

    def user_url(self, user_id: int) -> str:
        return f"/users/{self.ids.encode('user', user_id)}"

    def item_url(self, item_id: int) -> str:
        return f"/items/{self.ids.encode('item', item_id)}"

    def public_canaries(self) -> tuple[str, ...]:
        """Canary profile ids as they appear in URLs, for the ``enumeration.canaries`` config."""
        return tuple(self.ids.encode("user", uid) for uid in self.shop.canary_user_ids)

    def _user(self, public_id: str) -> User | None:
        number = self.ids.decode("user", public_id)
        return self.shop.users.get(number) if number is not None else None

    def _item_number(self, public_id: str) -> int | None:
        number = self.ids.decode("item", public_id)
        return number if number is not None and number in self.shop.items else None

    # -- HTML ------------------------------------------------------------------------------

    def home(self, account: str | None = None) -> Answer:
        links = "".join(
            f'<li><a href="{self.item_url(item.id)}">{_e(item.title)}</a> '
            f"<span class=muted>${item.price_cents / 100:.2f}</span></li>"
            for item in list(self.shop.items.values())[:60]
        )
        return Answer(200, _layout("Welcome", f"<p>A few of our items:</p><ul>{links}</ul>",
                                   account))

    def item(self, public_id: str, account: str | None = None) -> Answer:
        number = self._item_number(public_id)
        if number is None:
            return _not_found("item", account)
        item = self.shop.items[number]
        count = len(self.shop.comments_by_item[number])
        body = (f"<p>{_e(item.description)}</p><p>Price: ${item.price_cents / 100:.2f}</p>"
                f'<p><a href="{self.item_url(number)}/comments">{count} comments</a></p>')
        return Answer(200, _layout(item.title, body, account))

    def comments(self, public_id: str, raw_page: str | None,
                 account: str | None = None) -> Answer:
        number = self._item_number(public_id)
        if number is None:
            return _not_found("item", account)
        page = parse_page(raw_page)
        if page is None:
            return Answer(400, _layout("Bad request", "<p>page must be a positive whole "
                                                      "number.</p>", account))
        rows = self.shop.comment_page(number, page)
        if not rows and page > 1:
            return _not_found("page", account)
        items = "".join(
            f'<li data-comment-id="{c.id}"><a href="{self.user_url(c.user_id)}">'
            f"{_e(self.shop.users[c.user_id].name)}</a>: {_e(c.text)}</li>"
            for c in rows
        )
        nav = []
        base = f"{self.item_url(number)}/comments"
        if page > 1:
            nav.append(f'<a rel=prev href="{base}?page={page - 1}">previous</a>')
        if page < self.shop.page_count(number):
            nav.append(f'<a rel=next href="{base}?page={page + 1}">next</a>')
        title = f"Comments on {self.shop.items[number].title} (page {page})"
        return Answer(200, _layout(title, f"<ul>{items}</ul><nav>{' · '.join(nav)}</nav>",
                                   account))

    def user(self, public_id: str, account: str | None = None) -> Answer:
        user = self._user(public_id)
        if user is None:
            return _not_found("user", account)
        body = (f'<dl data-profile-id="{_e(public_id)}"><dt>City</dt><dd>{_e(user.city)}</dd>'
                f"<dt>Phone</dt><dd>{_e(mask_phone(user.phone))}</dd></dl>")
        return Answer(200, _layout(user.name, body, account))

    def login_form(self, account: str | None = None, failed: bool = False) -> Answer:
        note = "<p role=alert>Wrong name or password.</p>" if failed else ""
        body = (f"{note}<form method=post action=/login><label>Name <input name=account "
                "autocomplete=username></label> <label>Password <input name=password "
                "type=password autocomplete=current-password></label> <button>Sign in"
                "</button></form><p class=muted>Demo accounts: alice / alice-demo, "
                "bob / bob-demo, carol / carol-demo.</p>")
        return Answer(401 if failed else 200, _layout("Sign in", body, account))

    # -- JSON ------------------------------------------------------------------------------

    def api_items(self) -> Answer:
        payload = [{"id": self.ids.encode("item", i.id), "title": i.title,
                    "url": self.item_url(i.id)} for i in self.shop.items.values()]
        return Answer(200, "", "application/json", {"items": payload})

    def api_item(self, public_id: str) -> Answer:
        number = self._item_number(public_id)
        if number is None:
            return _api_error(404, "no such item")
        item = self.shop.items[number]
        return Answer(200, "", "application/json", {
            "id": public_id, "title": item.title, "price_cents": item.price_cents,
            "description": item.description,
            "comments": len(self.shop.comments_by_item[number]),
        })

    def api_comments(self, public_id: str, raw_page: str | None) -> Answer:
        number = self._item_number(public_id)
        if number is None:
            return _api_error(404, "no such item")
        page = parse_page(raw_page)
        if page is None:
            return _api_error(400, "page must be a positive whole number")
        rows = self.shop.comment_page(number, page)
        if not rows and page > 1:
            return _api_error(404, "no such page")
        return Answer(200, "", "application/json", {
            "item": public_id, "page": page, "pages": self.shop.page_count(number),
            "per_page": COMMENTS_PER_PAGE,
            "comments": [{"id": c.id, "text": c.text,
                          "author": {"id": self.ids.encode("user", c.user_id),
                                     "name": self.shop.users[c.user_id].name,
                                     "url": self.user_url(c.user_id)}} for c in rows],
        })

    def api_user(self, public_id: str) -> Answer:
        user = self._user(public_id)
        if user is None:
            return _api_error(404, "no such user")
        # mask_json masks every phone-like and e-mail-like field of a payload in one go, so a
        # field added later is covered too.
        return Answer(200, "", "application/json", mask_json({
            "id": public_id, "name": user.name, "city": user.city, "phone": user.phone,
        }))

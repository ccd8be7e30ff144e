"""The shop's views on Django: each routes to the shared pages and wraps the answer."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from ..shop_accounts import SESSION_COOKIE, check_password, session_value
from ..shop_pages import Answer, ShopSite


def _site() -> ShopSite:
    return settings.SHOP_SITE  # type: ignore[no-any-return]


def _account(request: HttpRequest) -> str | None:
    user = getattr(request, "user", None)
    return user.username if user is not None and user.is_authenticated else None


def _respond(answer: Answer) -> HttpResponse:
    if answer.json is not None:
        return JsonResponse(answer.json, status=answer.status, safe=False)
    return HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return _respond(_site().home(_account(request)))


@require_GET
def item(request: HttpRequest, item_id: str) -> HttpResponse:
    return _respond(_site().item(item_id, _account(request)))


@require_GET
def comments(request: HttpRequest, item_id: str) -> HttpResponse:
    return _respond(_site().comments(item_id, request.GET.get("page"), _account(request)))


@require_GET
def user(request: HttpRequest, user_id: str) -> HttpResponse:
    return _respond(_site().user(user_id, _account(request)))


@csrf_exempt  # the demo login has no CSRF middleware; a real project keeps Django's
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _respond(_site().login_form(_account(request)))
    name = request.POST.get("account", "")
    if not check_password(name, request.POST.get("password", "")):
        return _respond(_site().login_form(None, failed=True))
    response = HttpResponseRedirect("/", status=303)
    response.set_cookie(SESSION_COOKIE, session_value(settings.SECRET_KEY, name), httponly=True,
                        samesite="Lax")
    return response


@require_GET
def logout(request: HttpRequest) -> HttpResponse:
    response = HttpResponseRedirect("/", status=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@require_GET
def api_items(request: HttpRequest) -> HttpResponse:
    return _respond(_site().api_items())


@require_GET
def api_item(request: HttpRequest, item_id: str) -> HttpResponse:
    return _respond(_site().api_item(item_id))


@require_GET
def api_comments(request: HttpRequest, item_id: str) -> HttpResponse:
    return _respond(_site().api_comments(item_id, request.GET.get("page")))


@require_GET
def api_user(request: HttpRequest, user_id: str) -> HttpResponse:
    return _respond(_site().api_user(user_id))

"""URLs of the Django shop: the same routes as the Starlette and Flask shops."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home),
    path("items/<str:item_id>", views.item),
    path("items/<str:item_id>/comments", views.comments),
    path("users/<str:user_id>", views.user),
    path("login", views.login),
    path("logout", views.logout),
    path("api/items", views.api_items),
    path("api/items/<str:item_id>", views.api_item),
    path("api/items/<str:item_id>/comments", views.api_comments),
    path("api/users/<str:user_id>", views.api_user),
]

"""WSGI entry point: ``gunicorn example_apps.django_shop.wsgi:application``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_apps.django_shop.settings")
application = get_wsgi_application()

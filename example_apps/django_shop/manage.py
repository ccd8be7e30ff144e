"""``python -m example_apps.django_shop.manage runserver`` (run from the repository root)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_apps.django_shop.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)

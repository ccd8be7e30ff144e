"""Example shops protected by antiscrape, the attack scripts of the demo, and ``make demo``.

The three shops (Starlette, Django, Flask) serve the same seeded data through the same pages;
only the wiring differs, which is what a newcomer copies. The shared, framework-neutral parts
live next to this file: ``shop_data`` (the records), ``shop_ids`` (public ids),
``shop_pages`` (HTML and JSON bodies) and ``shop_accounts`` (the demo login).
"""

"""Thin adapters from web frameworks to the antiscrape engine (one module per framework)."""

"""Keep profile- and comment-like endpoints from being harvested (see ``guard``)."""

from __future__ import annotations

from .guard import EnumerationGuard
from .judgement import Verdict
from .matching import Access

__all__ = ["Access", "EnumerationGuard", "Verdict"]

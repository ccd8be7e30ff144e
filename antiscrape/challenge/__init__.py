"""Proof-of-work challenges, the no-JavaScript fallback and the signed clearance cookie."""

from __future__ import annotations

from .challenges import Challenges

__all__ = ["Challenges"]

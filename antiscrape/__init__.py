"""antiscrape: notice scrapers and crawlers in minutes and cap what they can take.

The core never imports a web framework; adapters live in ``antiscrape.integrations``.
"""

from __future__ import annotations

from .clock import ManualClock, system_clock
from .config import Config
from .decision import Action, Decision, Identity, Reply
from .engine import Engine
from .errors import AntiScrapeError, ConfigError, MissingExtraError, StorageError
from .request import Protect, RequestView, protect

__all__ = [
    "Action", "AntiScrapeError", "Config", "ConfigError", "Decision", "Engine", "Identity",
    "ManualClock", "MissingExtraError", "Protect", "Reply", "RequestView", "StorageError",
    "protect", "system_clock",
]
__version__ = "0.1.0"

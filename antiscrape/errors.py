"""Exceptions the project raises on purpose."""


class AntiScrapeError(Exception):
    """Base class for every error antiscrape raises on purpose."""


class ConfigError(AntiScrapeError, ValueError):
    """A configuration value is missing, unknown or of the wrong type.

    The message always starts with the dotted key path (``budgets.default.ip``) so the operator
    knows which line of the file to fix.
    """

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path or '<config>'}: {message}")


class StorageError(AntiScrapeError):
    """The state storage could not be reached or answered wrongly.

    Backends wrap their own errors in this one class, in one place, so the engine applies the
    failure policy without knowing which backend it talks to.
    """


class MissingExtraError(AntiScrapeError, ImportError):
    """An optional integration was imported without the package it needs."""

    def __init__(self, what: str, extra: str) -> None:
        super().__init__(f"{what} is not installed: pip install 'antiscrape[{extra}]'")

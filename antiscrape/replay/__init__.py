"""Offline replay of access logs through the engine, to tune thresholds before enforcing."""

from .parsers import LogRecord, combined_parser, json_parser
from .runner import ReplayRun, replay_config, replay_file, replay_lines, view_from_record
from .source import LogSource, Progress
from .tally import Tally

__all__ = ["LogRecord", "LogSource", "Progress", "ReplayRun", "Tally", "combined_parser",
           "json_parser", "replay_config", "replay_file", "replay_lines", "view_from_record"]

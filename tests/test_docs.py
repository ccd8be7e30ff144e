"""The README and the documentation site: commands a newcomer can paste, links that lead
somewhere, and a site build that fails on a broken link."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
         *sorted((ROOT / "example_apps").glob("*/README.md"))]
_FENCE = re.compile(r"```(?:sh|bash|shell|console)\n(.*?)```", re.DOTALL)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_shell_commands_use_the_projects_virtualenv(page: Path) -> None:
    """``python -m example_apps...`` fails with the system Python (no Scrapy, no project):
    commands name ``.venv/bin/python`` or a make target."""
    for block in _FENCE.findall(page.read_text(encoding="utf-8")):
        for line in block.splitlines():
            command = line.strip()
            assert not re.match(r"(python3?|pytest|ruff|mkdocs)\s", command), command


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_lead_to_files(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        path = target.split("#", 1)[0]
        assert (page.parent / path).exists(), f"{page.name}: {target}"


def build_site(docs: Path, tmp_path: Path, *,
               also_listed: str = "") -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of the project's mkdocs.yml (plus ``also_listed`` as one more
    nav entry) over the pages in ``docs``."""
    site = tmp_path / "project"
    site.mkdir(exist_ok=True)
    config = (ROOT / "mkdocs.yml").read_text()
    if also_listed:
        config += f"  - Later: {also_listed}\n"
    (site / "mkdocs.yml").write_text(config)
    shutil.copytree(ROOT / "scripts", site / "scripts", dirs_exist_ok=True)
    if (site / "docs").exists():
        shutil.rmtree(site / "docs")
    shutil.copytree(docs, site / "docs")
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"],
                          cwd=site, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


@pytest.mark.slow
def test_the_site_builds_and_a_broken_link_fails_it(tmp_path: Path) -> None:
    built = build_site(ROOT / "docs", tmp_path)
    assert built.returncode == 0, built.stderr[-3000:]
    assert (tmp_path / "project" / "build" / "docs" / "configuration" / "index.html").is_file()
    broken = tmp_path / "broken-docs"
    shutil.copytree(ROOT / "docs", broken)
    (broken / "index.md").write_text((broken / "index.md").read_text() +
                                     "\n[gone](no-such-page.md)\n")
    failed = build_site(broken, tmp_path)
    assert failed.returncode != 0 and "no-such-page.md" in failed.stderr


@pytest.mark.slow
def test_the_navigation_follows_the_pages_that_exist(tmp_path: Path) -> None:
    """A listed page another change has not written yet is left out; a page nobody listed
    is still built and reachable."""
    assert (ROOT / "mkdocs.yml").read_text().rstrip().endswith(".md")  # nav comes last
    docs = tmp_path / "docs-now"
    shutil.copytree(ROOT / "docs", docs)
    (docs / "unlisted.md").write_text("# A page nobody listed\n")
    built = build_site(docs, tmp_path, also_listed="not-written-yet.md")
    assert built.returncode == 0, built.stderr[-3000:]
    home = (tmp_path / "project" / "build" / "docs" / "index.html").read_text()
    assert "unlisted/" in home and "not-written-yet" not in home

"""Install GOV.UK Frontend into the console's static folder, from the npm registry.

Run once at set-up (``hub console assets``); the hub never fetches anything at run time and
the copied files are not kept in the repository.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from hub.console.web import GOVUK_ASSETS

PACKAGE = "govuk-frontend@5"
CSS = "govuk-frontend.min.css"
JS = "govuk-frontend.min.js"


class AssetsError(RuntimeError):
    """npm is missing or the install failed; the message says what to do."""


def install(work_dir: Path, target: Path = GOVUK_ASSETS) -> Path:
    """npm-install govuk-frontend under ``work_dir`` and copy its built files to ``target``."""
    npm = shutil.which("npm")
    if npm is None:
        raise AssetsError("npm is not installed; install Node.js and npm, then run this again.")
    work_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [npm, "install", "--prefix", str(work_dir), "--no-audit", "--no-fund", PACKAGE],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise AssetsError(f"npm install {PACKAGE} failed:\n{done.stderr.strip()[-2000:]}")
    dist = work_dir / "node_modules" / "govuk-frontend" / "dist" / "govuk"
    return copy_dist(dist, target)


def copy_dist(dist: Path, target: Path = GOVUK_ASSETS) -> Path:
    if not (dist / CSS).is_file():
        raise AssetsError(f"{dist} does not hold {CSS}; is this govuk-frontend 5?")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    # The stylesheet names its fonts and images from the site root (/assets/...); the
    # console serves them beside the stylesheet instead, so point the URLs there.
    css = (dist / CSS).read_text(encoding="utf-8").replace("url(/assets/", "url(assets/")
    (target / CSS).write_text(css, encoding="utf-8")
    shutil.copy2(dist / JS, target / JS)
    shutil.copytree(dist / "assets", target / "assets")
    version = (dist.parent.parent / "package.json").read_text(encoding="utf-8")
    (target / "package.json").write_text(version, encoding="utf-8")
    return target

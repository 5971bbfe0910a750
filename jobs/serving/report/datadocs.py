"""Great Expectations Data Docs that work with no network (government networks have none).

GX's pages load jQuery, Bootstrap, bootstrap-table, Font Awesome, Vega... from CDNs and a logo
from S3 (with the context id: a tracking pixel). The same files, at the same versions, are
vendored in ``datadocs_vendor/`` (from the npm registry, licences beside them); after each build
they are copied into the site and every page is rewritten to load them by relative path.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

VENDOR = Path(__file__).parent / "datadocs_vendor"
ASSETS = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js-1.12.9/dist/umd/popper.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap-4.3.1/dist/js/bootstrap.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap-4.3.1/dist/css/bootstrap.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table-1.19.1/dist/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table-1.19.1/dist/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": "bootstrap-table-1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": "bootstrap-table-1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": "bootstrap-table-1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": "bootstrap-datepicker-1.9.0/dist/js/bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": "bootstrap-datepicker-1.9.0/dist/css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "fortawesome-fontawesome-free-6.6.0/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": "forevolve-bootstrap-dark-1.1.0/dist/css/bootstrap-prefers-dark.css",
    "https://cdn.jsdelivr.net/npm/vega@5": "vega-5.33.1/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite-5.23.0/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed-6.29.0/build/vega-embed.min.js",
}
S3 = re.compile(
    r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/([\w.-]+\.(?:png|svg))[^\"']*"
)
STATIC = re.compile(r"""(["'(])(?:\./)?(?:\.\./)*static/""")
SRI = re.compile(r'\s+(integrity="[^"]*"|crossorigin="[^"]*")')


def _image(site: Path, name: str) -> Path:
    p = site / "static" / "images" / name
    return p if p.exists() else site / "static" / "images" / "logo-long.png"


def make_offline(site: Path) -> None:
    """Copy the vendored assets into ``site`` and point every page at them."""
    vendor_dir = site / "static" / "vendor"
    shutil.copytree(VENDOR, vendor_dir, dirs_exist_ok=True)
    local = {url: vendor_dir / rel for url, rel in ASSETS.items()}
    missing = sorted(str(p) for p in local.values() if not p.is_file())
    if missing:  # a page would silently try the network instead
        raise FileNotFoundError(f"vendored Data Docs assets missing: {', '.join(missing)}")
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")

        def rel(p: Path, page=page) -> str:
            return os.path.relpath(p, page.parent)

        for url, dest in local.items():
            html = html.replace(f'"{url}"', f'"{rel(dest)}"')
        html = S3.sub(lambda m, rel=rel: rel(_image(site, m.group(1))), html)
        html = STATIC.sub(lambda m, rel=rel: m.group(1) + rel(site / "static") + "/", html)
        html = SRI.sub("", html)  # integrity and crossorigin attributes break file:// loads
        page.write_text(html, encoding="utf-8")


def build_data_docs(gx_root: Path, out: Path, *, run_name: str) -> Path | None:
    """Build the Data Docs of one run (``run_name``: the business date the suites validated)
    from the validations kept under ``gx_root`` into ``out``; offline.

    The store keeps every date's validations (16 a date): rendering them all took 4 s for 3
    dates and 17 s for 60, and would take minutes after a year, for pages of dates the
    report is not about. The site is built in a temporary project holding the store's suites
    and the latest validation of each suite for the date (a rerun supersedes the earlier),
    so the report writes nothing into the lake either.
    """
    project = Path(gx_root) / "gx"
    if not project.is_dir():
        return None
    import tempfile

    import great_expectations as gx

    import jobs.pipeline.quality.expectations  # noqa: F401  (the renderer needs the custom expectations)

    with tempfile.TemporaryDirectory(prefix="govlake-docs-") as tmp:
        copy = Path(tmp) / "gx"
        shutil.copytree(project, copy, ignore=_stores_of_results)
        for src in _validations_of(project / VALIDATIONS, run_name):
            dest = copy / VALIDATIONS / src.relative_to(project / VALIDATIONS)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
        ctx = gx.get_context(mode="file", project_root_dir=tmp)
        ctx.build_data_docs()
        site = copy / "uncommitted" / "data_docs" / "local_site"
        if not (site / "index.html").exists():
            return None
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(site, out)
    make_offline(out)
    return out / "index.html"


VALIDATIONS = Path("uncommitted") / "validations"


def _stores_of_results(folder: str, names: list[str]) -> set[str]:
    """What the temporary project does not copy: the results and the built site."""
    here = Path(folder)
    if here.name == "uncommitted":
        return {n for n in names if n in ("validations", "data_docs")}
    return set()


def _validations_of(store: Path, run_name: str) -> list[Path]:
    """The files of the store's latest validation of each suite in run ``run_name`` (a result
    is kept as <suite path>/<run name>/<run time>/<batch>.json), and the store's id."""
    latest: dict[tuple[str, ...], str] = {}
    for f in store.rglob("*.json"):
        parts = f.relative_to(store).parts
        if len(parts) >= 4 and parts[-3] == run_name:
            suite = parts[:-3]
            latest[suite] = max(latest.get(suite, ""), parts[-2])
    chosen = [
        f
        for suite, when in latest.items()
        for f in store.joinpath(*suite, run_name, when).glob("*.json")
    ]
    ident = store / ".ge_store_backend_id"
    return chosen + ([ident] if ident.is_file() else [])

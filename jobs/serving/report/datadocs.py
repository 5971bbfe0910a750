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


def build_data_docs(gx_root: Path, out: Path) -> Path | None:
    """Build the Data Docs of the validations kept under ``gx_root`` into ``out``; offline."""
    if not (Path(gx_root) / "gx").is_dir():
        return None
    import great_expectations as gx

    import jobs.pipeline.quality.expectations  # noqa: F401  (the renderer needs the custom expectations)

    ctx = gx.get_context(mode="file", project_root_dir=str(gx_root))
    ctx.build_data_docs()
    site = Path(gx_root) / "gx" / "uncommitted" / "data_docs" / "local_site"
    if not (site / "index.html").exists():
        return None
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(site, out)
    make_offline(out)
    return out / "index.html"

"""One self-contained HTML report: tables, plots, grids (embedded as base64 PNG) and the run manifests.

The page has no external resource (no CDN, fonts, scripts or links to fetch), so it opens offline and can be mailed
or attached to CI artefacts as a single file.
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["build_html", "embed_image", "write_html"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 24px auto;
       max-width: 1400px; padding: 0 16px; color: #1b1b1b; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.meta { color: #555; font-size: 0.9em; }
.scroll { overflow-x: auto; }
table.ledbench { border-collapse: collapse; font-size: 0.9em; margin: 8px 0; font-variant-numeric: tabular-nums; }
table.ledbench caption { text-align: left; padding: 4px 0; font-size: 0.9em; color: #333; max-width: 1100px; }
table.ledbench th.group { text-align: center; border-bottom: 1px solid #333; }
table.ledbench th, table.ledbench td { padding: 4px 10px; border-bottom: 1px solid #e4e4e4; text-align: right;
       white-space: nowrap; }
table.ledbench th[scope=row], table.ledbench thead th:first-child { text-align: left; }
table.ledbench thead th { border-bottom: 2px solid #333; }
table.ledbench tr.pseudo { color: #666; font-style: italic; }
table.ledbench td b { color: #000; } table.ledbench td u { text-decoration-thickness: 2px; }
p.legend { font-size: 0.8em; color: #555; margin-top: 2px; }
figure { display: inline-block; margin: 8px 12px 8px 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #eee; }
figure.plot img { width: 620px; }
figcaption { font-size: 0.85em; color: #444; }
table.kv td, table.kv th { text-align: left; padding: 2px 10px; font-size: 0.9em; border-bottom: 1px solid #eee; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 0.8em; }
"""


# Inline, offline: records load errors and decoded images on the root element, for humans and the browser test.
_SCRIPT = """
document.documentElement.setAttribute("data-errors", "0");
window.addEventListener("error", function (ev) {
  var r = document.documentElement, n = parseInt(r.getAttribute("data-errors") || "0", 10) + 1;
  r.setAttribute("data-errors", String(n));
  r.setAttribute("data-last-error", String(ev.message || (ev.target && ev.target.tagName) || "error"));
}, true);
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.documentElement.setAttribute("data-images-loaded", ok + "/" + imgs.length);
});
"""


def embed_image(path_or_bytes: str | Path | bytes, mime: str | None = None) -> str:
    """A ``data:`` URI for a PNG/JPEG/SVG file or PNG bytes."""
    if isinstance(path_or_bytes, bytes):
        data, mime = path_or_bytes, mime or "image/png"
    else:
        p = Path(path_or_bytes)
        data = p.read_bytes()
        mime = mime or {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                        ".svg": "image/svg+xml"}.get(p.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _kv(rows: Sequence[tuple[str, Any]]) -> str:
    e = html.escape
    return '<table class="kv">' + "".join(f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in rows) \
        + "</table>"


def _get(m: Mapping[str, Any], *paths: str, default: Any = "?") -> Any:
    """First present dotted path, e.g. ``_get(m, "versions.ledbench", "ledbench_version")``."""
    for path in paths:
        cur: Any = m
        for part in path.split("."):
            cur = cur.get(part) if isinstance(cur, Mapping) else None
        if cur is not None and cur != "":
            return cur
    return default


def _manifest_html(source: str, m: Mapping[str, Any]) -> str:
    e = html.escape
    dev = m.get("device")
    device = dev.get("device", "?") if isinstance(dev, Mapping) else dev or "?"
    if isinstance(dev, Mapping) and dev.get("gpu_name"):
        device = f"{device} ({dev['gpu_name']})"
    git = m.get("git")
    rev = _get(m, "git.commit", "git.revision", default=git if isinstance(git, str) else "?")
    dirty = " (dirty)" if isinstance(git, Mapping) and git.get("dirty") else ""
    ds = m.get("dataset")
    dataset = (f"{ds.get('name', '?')}/{ds.get('split', '?')}, {ds.get('n_images', '?')} images, manifest "
               f"{str(ds.get('manifest_hash', '?'))[:12]}") if isinstance(ds, Mapping) else ds
    summary = [("run", source), ("name", m.get("name")), ("created", m.get("created")),
               ("ledbench", _get(m, "versions.ledbench", "ledbench_version", "version")),
               ("git", f"{rev}{dirty}"), ("device", device), ("dataset", dataset),
               ("seeds", json.dumps(m.get("seeds", m.get("seed", "?")), sort_keys=True)),
               ("wall time (s)", m.get("wall_time_s", m.get("wall_time"))),
               ("errors", len(m["errors"]) if isinstance(m.get("errors"), list) else None)]
    summary = [(k, v) for k, v in summary if v is not None]
    out = [f"<h3>{e(source)}</h3>", _kv(summary)]
    skipped = m.get("skipped") or []
    if skipped:
        out.append(f"<p><b>Skipped ({len(skipped)}):</b></p><ul>")
        for s in skipped:
            if isinstance(s, Mapping):
                what = ", ".join(f"{k}={v}" for k, v in s.items() if k != "reason")
                out.append(f"<li>{e(what)}: {e(str(s.get('reason', '')))}</li>")
            else:
                out.append(f"<li>{e(str(s))}</li>")
        out.append("</ul>")
    out.append("<details><summary>full manifest.json</summary><pre>"
               + e(json.dumps(m, indent=2, sort_keys=True, default=str)) + "</pre></details>")
    return "\n".join(out)


def build_html(*, title: str = "ledbench report", tables: Sequence[tuple[str, str]] = (),
               figures: Sequence[tuple[str, str | Path]] = (), grids: Sequence[tuple[str, str | Path]] = (),
               manifests: Mapping[str, Mapping[str, Any]] | None = None, notes: Sequence[str] = (),
               subtitle: str = "") -> str:
    """Assemble the page.

    Args:
        tables: (heading, HTML fragment from ``format_table(..., fmt="html")``).
        figures, grids: (caption, image path) pairs, embedded as base64.
        manifests: run source -> manifest dict.
        notes: plain-text lines shown under the title (e.g. plots that could not be drawn and why).
    """
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{e(title)}</title><style>{_CSS}</style><script>{_SCRIPT}</script></head><body>",
             f"<h1>{e(title)}</h1>"]
    if subtitle:
        parts.append(f'<p class="meta">{e(subtitle)}</p>')
    for n in notes:
        parts.append(f'<p class="meta">{e(n)}</p>')
    toc = [("tables", "Tables", tables), ("plots", "Plots", figures), ("grids", "Qualitative grids", grids),
           ("manifest", "Run manifests", manifests)]
    parts.append('<p class="meta">' + " · ".join(f'<a href="#{a}">{t}</a>' for a, t, x in toc if x) + "</p>")
    if tables:
        parts.append('<h2 id="tables">Tables</h2>')
        for heading, frag in tables:
            if heading:
                parts.append(f"<h3>{e(heading)}</h3>")
            parts.append(f'<div class="scroll">{frag}</div>')
    for anchor, heading, items in (("plots", "Plots", figures), ("grids", "Qualitative grids", grids)):
        if not items:
            continue
        parts.append(f'<h2 id="{anchor}">{heading}</h2>')
        cls = "plot" if anchor == "plots" else "grid"
        for caption, path in items:
            parts.append(f'<figure class="{cls}"><img alt="{e(caption)}" src="{embed_image(path)}">'
                         f"<figcaption>{e(caption)}</figcaption></figure>")
    if manifests:
        parts.append('<h2 id="manifest">Run manifests</h2>')
        for src, m in manifests.items():
            parts.append(_manifest_html(src, m))
    parts.append('<p class="meta">Generated by ledbench from stored results only (no model was rerun).</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_html(path: str | Path, **kwargs: Any) -> Path:
    """Write :func:`build_html` output to ``path`` (UTF-8); returns the path."""
    from ledbench.bench.files import atomic_write_bytes

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, build_html(**kwargs).encode("utf-8"))
    os.chmod(path, 0o644)  # atomic writes create 0600 temp files; a report is meant to be shared
    return path

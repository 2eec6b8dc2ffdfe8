"""The tour: run the toolkit end to end on embedded data and write a gallery.

Each topic is a module of this package with a function ``run(ctx)`` that draws its figures with
``ctx.save(fig, name, caption)``; :data:`SECTIONS` orders them. :func:`run_tour` calls each section
and writes ``index.html`` that shows every figure with its one-line caption.

``python -m cvkit tour [--out DIR] [--quick] [--only SECTION ...]``
"""
from __future__ import annotations

import html
import importlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SECTIONS", "TourContext", "run_tour"]

#: (module name, title) in the order of the course.
SECTIONS = [
    ("datasets", "Datasets and preprocessing"),
    ("localization", "Object localization"),
    ("cam", "Class activation maps"),
    ("augmented", "Augmented Grad-CAM: heat-map super-resolution"),
    ("wsol", "Weakly-supervised localization evaluation"),
    ("segmentation", "Classic segmentation and Mask R-CNN building blocks"),
    ("inside", "Looking inside CNNs"),
]


@dataclass
class TourContext:
    """What a section gets: where to write, how much work to do, a progress bar and ``save``."""

    out_dir: Path
    quick: bool = False
    seed: int = 0
    section: str = ""
    figures: list = field(default_factory=list)

    def progress(self, iterable, desc="", total=None):
        """Wrap an iterable in a progress bar on stderr (tqdm)."""
        from tqdm.auto import tqdm

        return tqdm(iterable, desc=f"[{self.section}] {desc}", total=total, file=sys.stderr,
                    leave=False, disable=None)

    def save(self, fig, name, caption):
        """Save a matplotlib figure as ``<section>_<name>.png``, close it and record its caption."""
        import matplotlib.pyplot as plt

        fname = f"{self.section}_{name}.png"
        fig.savefig(self.out_dir / fname, dpi=90, bbox_inches="tight")
        plt.close(fig)
        self.figures.append((self.section, fname, caption))
        return self.out_dir / fname


def _write_index(out_dir, figures, titles, timings):
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>cvkit tour</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
             "figure{display:inline-block;margin:8px;max-width:520px;vertical-align:top}"
             "img{max-width:100%}figcaption{font-size:90%}</style></head><body>",
             "<h1>cvkit tour</h1><p>Every figure below was computed by <code>python -m cvkit tour"
             "</code> on embedded synthetic data and scikit-image's bundled photos.</p>"]
    for section, title in titles:
        figs = [f for f in figures if f[0] == section]
        if not figs:
            continue
        parts.append(f"<h2 id='{section}'>{html.escape(title)}</h2>"
                     f"<p><small>{timings.get(section, 0):.1f} s</small></p>")
        for _, fname, caption in figs:
            parts.append(f"<figure><img src='{fname}' alt='{html.escape(caption)}'>"
                         f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    parts.append("</body></html>")
    (out_dir / "index.html").write_text("\n".join(parts), encoding="utf-8")


def run_tour(out="cvkit-tour", quick=False, only=None, seed=0):
    """Run every section (or those named in ``only``) and write the gallery to ``out``.

    Returns the path of ``index.html``.
    """
    import matplotlib

    matplotlib.use("Agg")
    names = [s for s, _ in SECTIONS]
    if only:
        unknown = [s for s in only if s not in names]
        if unknown:
            raise ValueError(f"`only` names unknown tour sections {unknown}; choose from {names}.")
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = TourContext(out_dir=out_dir, quick=quick, seed=seed)
    timings = {}
    for name, title in SECTIONS:
        if only and name not in only:
            continue
        ctx.section = name
        t0 = time.perf_counter()
        print(f"tour: {title} ...", file=sys.stderr, flush=True)
        module = importlib.import_module(f"cvkit.tour.{name}")
        module.run(ctx)
        timings[name] = time.perf_counter() - t0
        print(f"tour: {title} done in {timings[name]:.1f} s", file=sys.stderr, flush=True)
    _write_index(out_dir, ctx.figures, SECTIONS, timings)
    return out_dir / "index.html"

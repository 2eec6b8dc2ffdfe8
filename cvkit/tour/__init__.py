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
    ("fcam", "F-CAM: full-resolution class activation maps"),
    ("perception", "Perception Visualization: what the network perceived"),
    ("segmentation", "Classic segmentation and Mask R-CNN building blocks"),
    ("maskrcnn", "Mask R-CNN end to end"),
    ("inside", "Looking inside CNNs"),
]


@dataclass
class TourContext:
    """What a section gets: where to write, how much work to do, a progress bar and ``save``.

    Parameters
    ----------
    out_dir : Path
        Folder of the gallery (it must exist).
    quick : bool
        Less data and fewer iterations.
    seed : int
        Seed of every random choice of the sections.
    section : str
        Name of the section being run (:func:`run_tour` sets it); the prefix of the file names.
    figures : list
        ``(section, file name, caption)`` of every saved figure, in order.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     ctx = TourContext(Path(tmp), section="demo")
    ...     fig, ax = plt.subplots()
    ...     path = ctx.save(fig, "empty", "an empty figure")
    ...     print(path.name, path.exists(), plt.fignum_exists(fig.number))
    demo_empty.png True False
    >>> ctx.figures
    [('demo', 'demo_empty.png', 'an empty figure')]
    >>> sum(ctx.progress(range(4), "counting"))   # a tqdm bar on stderr, off when not a terminal
    6
    """

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

    Parameters
    ----------
    out : str or Path
        Folder of the gallery (created if missing).
    quick : bool
        Less data and fewer iterations in every section.
    only : list of str, optional
        Names from :data:`SECTIONS` to run; default all.
    seed : int

    Returns
    -------
    Path

    Examples
    --------
    >>> [name for name, _ in SECTIONS]   # doctest: +NORMALIZE_WHITESPACE
    ['datasets', 'localization', 'cam', 'augmented', 'wsol', 'fcam', 'perception', 'segmentation',
     'maskrcnn', 'inside']

    Section names and the output folder are checked before anything is written:

    >>> run_tour("unused", only=["nope"])   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `only` names unknown tour sections ['nope']; choose from ['datasets', ...].
    >>> run_tour(__file__, only=["datasets"])   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `out`: ...__init__.py is an existing file, not a folder; give a folder (created if missing).

    One section into a temporary folder (skipped here: the localization section loads the zoo's
    MobileNetV2 localizer and predicts 100 held-out images):

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:   # doctest: +SKIP
    ...     index = run_tour(tmp, quick=True, only=["localization"])
    ...     print(index.name, len(list(index.parent.glob("localization_*.png"))))
    index.html 4
    """
    import matplotlib

    matplotlib.use("Agg")
    names = [s for s, _ in SECTIONS]
    if only:
        unknown = [s for s in only if s not in names]
        if unknown:
            raise ValueError(f"`only` names unknown tour sections {unknown}; choose from {names}.")
    from ..cli.console import output_folder, quiet_tensorflow

    out_dir = output_folder(out, "out")          # an existing file or an unwritable path: a ValueError
    quiet_tensorflow()                           # TensorFlow without its C++ start-up lines
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

"""The gallery's page: every <img src> and <a href> of ``index.html`` exists, and, where a headless
Chromium is installed (the Debian package ``chromium``), the page renders in it with every image
decoded and a screenshot that is not blank."""
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest

from cvkit.tour import run_tour


class _Links(HTMLParser):
    """Collects the src of every <img> and the href of every <a>."""

    def __init__(self):
        super().__init__()
        self.images, self.links = [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a.get("src"))
        elif tag == "a" and "href" in a:
            self.links.append(a["href"])


def _local(target):
    """The local file a src / href names, or None for an external link or a page anchor."""
    url = urlparse(target)
    if url.scheme in ("http", "https", "mailto") or target.startswith("#"):
        return None
    return unquote(url.path)


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    """The tour's quick ``datasets`` section (its cheapest): the folder holding index.html."""
    out = tmp_path_factory.mktemp("gallery")
    index = run_tour(out, quick=True, only=["datasets"])
    assert index == out / "index.html"
    return out


def test_every_image_and_link_of_the_page_exists(gallery):
    page = _Links()
    page.feed((gallery / "index.html").read_text(encoding="utf-8"))
    assert page.images, "the page shows no image"
    assert all(page.images), "an <img> without src"
    missing = [t for t in page.images + page.links
               if _local(t) is not None and not (gallery / _local(t)).is_file()]
    assert not missing, f"broken src / href: {missing}"
    on_disk = sorted(p.name for p in gallery.glob("*.png"))
    assert sorted(page.images) == on_disk          # and no figure is left out of the page


def test_links_checker_finds_a_broken_image(tmp_path):
    (tmp_path / "index.html").write_text("<img src='there.png'><img src='gone.png'>"
                                         "<a href='#top'>top</a><a href='https://x.org'>x</a>")
    (tmp_path / "there.png").write_bytes(b"png")
    page = _Links()
    page.feed((tmp_path / "index.html").read_text())
    broken = [t for t in page.images + page.links
              if _local(t) is not None and not (tmp_path / _local(t)).is_file()]
    assert broken == ["gone.png"]


_CHECK = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const bad = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);
  document.body.setAttribute('data-images', imgs.length);
  document.body.setAttribute('data-broken', bad.join(' '));
});
</script></body>"""


def _chromium():
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_page_renders_in_headless_chromium(gallery, tmp_path):
    browser = _chromium()
    if browser is None:
        reason = "no headless Chromium on this machine (install the Debian package `chromium`)"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    page = (gallery / "index.html").read_text(encoding="utf-8")
    check = gallery / "check.html"                 # same folder: the relative srcs resolve
    check.write_text(page.replace("</body>", _CHECK), encoding="utf-8")
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]
    dom = subprocess.run([*flags, "--dump-dom", check.as_uri()], capture_output=True, text=True,
                         timeout=120)
    n_images = page.count("<img ")
    assert f'data-images="{n_images}"' in dom.stdout, dom.stderr[-2000:]
    assert re.search(r'data-broken=""', dom.stdout), "images Chromium could not decode"
    shot = tmp_path / "gallery.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1200,1600",
                    (gallery / "index.html").as_uri()], capture_output=True, timeout=120)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (1600, 1200) and pixels.std() > 10   # figures drawn, not a blank page
    check.unlink()

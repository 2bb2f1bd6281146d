"""A notebook as a self-contained HTML page on nbgrader's feedback template (nbconvert's HTMLExporter as
nbgrader's generate_feedback configures it), fast enough for a class: the exporter and its templates are
built once per process, and a cell that renders the same for every student (the lesson's text and code, a
scratch cell left as released) is rendered once and its HTML reused. Graded cells, whose scores differ per
student, always go through the template. A page is the same bytes whether its shared cells were rendered
now or taken from the cache."""
from __future__ import annotations

import copy
import hashlib
import json
import re
import secrets
from functools import lru_cache
from pathlib import Path

import nbformat
from nbformat import NotebookNode

MAX_REMEMBERED_CELLS = 20_000
_TOC = re.compile(r'(<div id="toc">)(.*?)(</div>)', re.S)


def new_cell(cell_type: str, source: str, cell_id: str, **metadata: str) -> NotebookNode:
    """Return a cell built as nbformat.v4 builds it, without checking each one against the schema (for 200
    students, checking every inserted cell cost more than rendering it; the page's notebook is checked once)."""
    return nbformat.from_dict({"cell_type": cell_type, "id": cell_id, "metadata": metadata, "source": source})


def _feedback_exporter_class():
    """Return nbconvert's HTMLExporter without its closing BeautifulSoup pass, with cached filters.

    That pass parses the whole page again to add alt text to images and tab stops to JupyterLab cells (the
    classic template nbgrader's feedback extends has none): it took half of each page's time. Alt text is
    added here by `_add_alt_text`. Code highlighting and markdown are the same for most cells of every
    student (the lesson's text, its locked test cells), so they are computed once per distinct text."""
    from functools import lru_cache

    from nbconvert.exporters import HTMLExporter, TemplateExporter

    class FeedbackExporter(HTMLExporter):
        def from_notebook_node(self, nb, resources=None, **kw):
            from nbconvert.filters.highlight import Highlight2HTML

            language = nb.metadata.get("language_info", {})
            lexer = language.get("pygments_lexer", language.get("name", None))
            if "highlight_code" not in self._cached_filters:
                highlight = Highlight2HTML(pygments_lexer=lexer, parent=self)
                self._cached_filters["highlight_code"] = lru_cache(maxsize=4096)(
                    lambda source, language=None: highlight(source, language))
            cached = self._cached_filters["highlight_code"]
            self.register_filter("highlight_code", lambda source, language=None, metadata=None, **_: cached(source, language))
            resources = self._init_resources(resources)
            page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            return _add_alt_text(page), resources

    FeedbackExporter._cached_filters = {}
    return FeedbackExporter


_IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\balt=)")


def _add_alt_text(page: str) -> str:
    """Return the page with alt text on every image that has none (what nbconvert's closing pass adds)."""
    return _IMG_WITHOUT_ALT.sub('<img alt="No description has been provided for this image"', page)


class PageRenderer:
    """nbgrader's feedback template (as generate_feedback configures it) on nbconvert, built once and
    reused for every page."""

    def __init__(self) -> None:
        import nbgrader
        from jupyter_core.paths import jupyter_config_dir
        from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
        from traitlets.config import Config as TraitletsConfig

        here = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
        config = TraitletsConfig()
        config.HTMLExporter.template_name = "feedback"
        config.HTMLExporter.optimistic_validation = True  # validate the page's notebook once, not per step
        config.HTMLExporter.extra_template_basedirs = [str(here / "templates")]
        config.HTMLExporter.extra_template_paths = [str(here / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
        self.exporter = _feedback_exporter_class()(config=config)
        # the page's inline CSS (pygments, the course's custom.css) as generate_feedback adds it: once, not per page
        _, header = CSSHTMLHeaderPreprocessor(config=config).preprocess(nbformat.v4.new_notebook(),
                                                                         {"config_dir": jupyter_config_dir()})
        self.inlining = header["inlining"]
        self.fragments: dict[str, str] = {}  # a cell's content hash -> its HTML
        self.nonce = "agcell" + secrets.token_hex(8)  # a student cannot type a token that we replace

    def render(self, nb: NotebookNode, resources: dict) -> str:
        """Return the page's HTML. A cell without nbgrader metadata (the lesson's text, a student's scratch
        cell) renders the same for every student who has it unchanged: it is rendered once and its HTML
        reused. Graded cells, whose scores differ per student, always go through the template."""
        cached: dict[str, list[str]] = {}  # token in this page -> the keys of the run of cached cells it stands for
        fresh: dict[str, str] = {}  # token around a cell rendered now -> its key
        cells: list[NotebookNode] = []
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "raw" or cell.metadata.get("nbgrader"):
                cells.append(cell)
                continue
            key = hashlib.sha256(json.dumps(cell, sort_keys=True).encode()).hexdigest()
            token = f"{self.nonce}x{index}x"
            if key not in self.fragments:
                fresh[token] = key
                cells += [_token_cell(token + "s"), cell, _token_cell(token + "e")]
            elif cells and cells[-1].source in cached:  # one token for a run of cached cells
                cached[cells[-1].source].append(key)
            else:
                cached[token] = [key]
                cells.append(_token_cell(token))
        nb = copy.copy(nb)
        nb.cells = cells
        page, _ = self.exporter.from_notebook_node(nb, resources={**resources, "inlining": self.inlining})
        # a cell rendered now and the same cell taken from the cache give the same bytes: each is its HTML,
        # stripped, on lines of its own, whatever whitespace the template put around the placeholders
        def fill(match: re.Match) -> str:
            if match.group(1) is None:  # a run of cached cells
                return "".join(f"\n{self.fragments[k]}\n" for k in cached.get(match.group(3), ()))
            fragment = match.group(2).strip()  # a cell rendered now, remembered
            if len(self.fragments) < MAX_REMEMBERED_CELLS:
                self.fragments[fresh[match.group(1)]] = fragment
            return f"\n{fragment}\n"

        nonce = re.escape(self.nonce)
        page = re.sub(rf"\s*(?:({nonce}x\d+x)s(.*?)\1e|({nonce}x\d+x))\s*", fill, page, flags=re.S)
        # the template's table of contents leaves blank lines per cell, and placeholders change the count
        return _TOC.sub(lambda m: m.group(1) + re.sub(r"\n\s*(?=\n)", "", m.group(2)) + m.group(3), page, count=1)


def _token_cell(token: str) -> NotebookNode:
    """Return a raw HTML cell holding only `token` (letters and digits: nbconvert renders it as is)."""
    return new_cell("raw", token, token[-60:], raw_mimetype="text/html")


@lru_cache(maxsize=1)
def page_renderer() -> PageRenderer:
    """Return this process's renderer: built once (nbconvert's templates take a second to load), so that
    `watch`, which writes one page per grade, pays it once, and cells every student shares stay rendered."""
    return PageRenderer()

"""Let the PyPI torchvision wheel (built for CUDA torch) import beside the CPU-only torch wheel.

Its compiled ``_C`` extension cannot load there, so the ``torchvision::nms``/``qnms`` operators are
never defined and ``import torchvision`` dies in ``_meta_registrations.py`` with
"RuntimeError: operator torchvision::nms does not exist". This module installs a ``sys.meta_path``
finder that, on the first import of ``torchvision``, defines those two schemas when ``_C`` cannot be
loaded (the ops then have no kernels: calling them raises, but everything else works).

It runs at every interpreter start through a ``.pth`` file, so importing it must stay cheap and must
not import torch; it is standalone (no imports from the autograder package) because it is also copied
into site-packages as ``torchvision_cpu_compat.py``.
"""
from __future__ import annotations

import sys

SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_LIBRARY = None  # the torch.library.Library holding the schemas; must stay alive


def ensure_ops() -> None:
    """Return None once torchvision's ops exist: loaded from its ``_C``, or else defined as bare schemas."""
    global _LIBRARY
    import glob
    import importlib.util
    import os

    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None:  # torchvision is not installed: nothing to fix
        return
    for folder in spec.submodule_search_locations or ():
        for lib in sorted(glob.glob(os.path.join(folder, "_C*.so")) + glob.glob(os.path.join(folder, "_C*.pyd"))):
            try:
                torch.ops.load_library(lib)
                return
            except OSError:
                pass
    if _LIBRARY is None and not hasattr(torch.ops.torchvision, "nms"):
        library = torch.library.Library("torchvision", "DEF")
        for schema in SCHEMAS:
            library.define(schema)
        _LIBRARY = library


class TorchvisionOpsFinder:
    """Meta-path finder that prepares torchvision's ops, then always returns None to let the import proceed.

    It implements the ``importlib.abc.MetaPathFinder`` protocol without subclassing it: importing
    ``importlib.abc`` pulls in ``importlib.resources`` and ``typing``, ~35 ms at every interpreter start.
    """

    _busy = False

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:  # noqa: ARG002
        """Return None; on the first lookup of ``torchvision`` make sure its ops exist, then uninstall."""
        if fullname != "torchvision" or self._busy:
            return None
        self._busy = True  # importlib.util.find_spec("torchvision") below comes back through here
        try:
            ensure_ops()
            uninstall()
        except Exception:  # never break the import itself (torchvision reports its own error); retry next time
            pass
        finally:
            self._busy = False
        return None


def _is_ours(finder: object) -> bool:
    """Return True for a finder of this module or of another copy of it (site-packages vs autograder)."""
    return type(finder).__name__ == TorchvisionOpsFinder.__name__


def install() -> None:
    """Return None; put the finder first on ``sys.meta_path`` unless it is already there or torchvision is loaded."""
    if "torchvision" not in sys.modules and not any(_is_ours(f) for f in sys.meta_path):
        sys.meta_path.insert(0, TorchvisionOpsFinder())


def uninstall() -> None:
    """Return None; remove the finder from ``sys.meta_path``."""
    sys.meta_path[:] = [f for f in sys.meta_path if not _is_ours(f)]


install()

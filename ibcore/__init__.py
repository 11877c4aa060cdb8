"""ibcore: the tested numerical core of the course on gradient descent and implicit bias.

One module per theme of the course; nothing heavy (torch, matplotlib, ipywidgets) is imported
here, so ``import ibcore`` is cheap and submodules are imported where they are used::

    from ibcore import widgets, plotting

Conventions shared by every module (see ``book/conventions.md``): numpy arrays are float64,
random numbers come from an explicit ``numpy.random.Generator`` or an integer ``seed``, and every
public function validates its arguments and raises ``ValueError``/``TypeError`` naming the
argument and the fix. A training run that blows up raises :class:`ibcore.DivergenceError` (a
``ValueError`` carrying the step and the value); a numerical solver that fails raises
:class:`ibcore.SolverError`. Both are defined in :mod:`ibcore.errors`.
"""

from .errors import DivergenceError, SolverError

__all__ = ["DivergenceError", "SolverError"]
__version__ = "0.1.0"

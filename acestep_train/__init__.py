"""ACE-Step Studio shared library: models, data, preprocessing, training, export.

Nothing in this package imports Gradio; the apps in ``app/`` and ``captioner/`` call it.
"""

__version__ = "0.1.0"

import logging as _logging

# bitsandbytes logs a warning at import on CPUs with AVX512-BF16 when the optional
# ``kernels`` package (a hub download) is absent; it falls back to its own kernels.
_logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(_logging.ERROR)

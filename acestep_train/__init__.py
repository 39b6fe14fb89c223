"""ACE-Step Studio shared library: models, data, preprocessing, training, export.

Nothing in this package imports Gradio; the apps in ``app/`` and ``captioner/`` call it.
"""

__version__ = "0.1.0"

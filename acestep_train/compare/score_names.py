"""The numbers a listening-bench cell may carry, and what the Compare tab calls them.

Torch-free on purpose: the trainer UI imports it before the page is served (``app/compare_grid.py``).
"""

from __future__ import annotations

#: score key in grid.json -> its name in the score table, the players' labels and the sort choices
SCORES = {"distance": "distance to base", "loss": "loss", "style": "style similarity",
          "adherence": "prompt adherence", "kad": "KAD to the training songs"}
HIGHEST_FIRST = frozenset({"style", "adherence"})  # closer is higher; the others: closer is lower

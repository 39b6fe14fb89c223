"""Training figures from ``events.jsonl``: loss (raw, smoothed) with the learning rate, and GPU memory.

Long runs have tens of thousands of steps; a figure gets at most ``MAX_POINTS`` of them (evenly
spaced, the newest always kept), so a poll stays small. ``uirevision`` keeps the user's zoom
when the figure is redrawn.
"""

from __future__ import annotations

import plotly.graph_objects as go

MAX_POINTS = 2000
#: the legend sits under the x axis, so the plot's label badge (drawn over the top-left corner) never covers it
LEGEND = {"orientation": "h", "x": 0, "xanchor": "left", "y": -0.25, "yanchor": "top"}
LEGEND_MARGIN = 90  # px under the plot area: the x-axis title, then the legend


def thin(rows: list[dict], limit: int = MAX_POINTS) -> list[dict]:
    if len(rows) <= limit:
        return rows
    stride = len(rows) / (limit - 1)
    return [rows[int(i * stride)] for i in range(limit - 1)] + [rows[-1]]


def run_steps(events: list[dict], job_events: list[dict], kind: str = "step") -> list[dict]:
    """``kind`` events (step, validation) of this job, plus the history before it when it resumed in the same
    folder."""
    current = [e for e in job_events if e["event"] == kind]
    first = current[0]["step"] if current else None
    if first is None:
        return current
    return [e for e in events if e["event"] == kind and e["step"] < first] + current


def loss_figure(steps: list[dict], validations: list[dict] = ()) -> go.Figure:
    """Training loss and lr; with held-out songs, their validation loss and the base model's on them."""
    steps = thin(steps)
    x = [e["step"] for e in steps]
    figure = go.Figure()
    figure.add_scatter(x=x, y=[e["loss"] for e in steps], name="loss", mode="lines", opacity=0.45)
    figure.add_scatter(x=x, y=[e["smoothed_loss"] for e in steps], name="smoothed loss", mode="lines")
    figure.add_scatter(x=x, y=[e["lr"] for e in steps], name="learning rate", mode="lines", yaxis="y2",
                       line={"dash": "dot"})
    if validations:
        checks = thin(list(validations))
        x_checks = [e["step"] for e in checks]
        figure.add_scatter(x=x_checks, y=[e["loss"] for e in checks], name="validation loss (held-out songs)",
                           mode="lines+markers")
        figure.add_scatter(x=x_checks, y=[e["base_loss"] for e in checks], name="base model on held-out songs",
                           mode="lines", line={"dash": "dash"})
    top = max([e["lr"] for e in steps] + [0.0]) * 1.1 or 1.0  # a constant lr still gets a readable axis
    figure.update_layout(xaxis={"title": "step"}, yaxis={"title": "loss"},
                         yaxis2={"overlaying": "y", "side": "right", "title": "lr", "showgrid": False,
                                 "range": [0, top], "tickformat": ".1e"},
                         height=380, margin={"t": 40, "b": LEGEND_MARGIN}, uirevision="loss", legend=LEGEND)
    return figure


def memory_figure(events: list[dict], steps: list[dict]) -> go.Figure:
    """NVML's view of the whole GPU, and the training process's own peak (torch on a GPU, RSS on the CPU)."""
    samples = thin([e for e in events if e["event"] == "gpu"])
    peaks = thin([e for e in steps if e.get("peak_memory_gb")])
    figure = go.Figure()
    figure.add_scatter(x=[e["step"] for e in samples], y=[e["gpu_mem_used_gb"] for e in samples],
                       name="GPU memory used (GB)", mode="lines")
    if peaks:
        figure.add_scatter(x=[e["step"] for e in peaks], y=[e["peak_memory_gb"] for e in peaks],
                           name="training process peak (GB)", mode="lines")
    figure.update_layout(xaxis={"title": "step"}, yaxis={"title": "GB"}, height=280,
                         margin={"t": 40, "b": LEGEND_MARGIN}, uirevision="memory", showlegend=True, legend=LEGEND)
    return figure


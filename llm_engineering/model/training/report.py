"""Loss curves as a self-contained HTML page (inline SVG), for the dashboard and the run folder."""

from __future__ import annotations

import html
from collections.abc import Sequence

from llm_engineering.model.training.trainer import StageResult

_COLOURS = {"sft": "#1f77b4", "dpo": "#d62728"}


def _polyline(points: Sequence[tuple[int, float]], *, width: int, height: int, pad: int) -> str:
    steps = [s for s, _ in points]
    losses = [v for _, v in points]
    low, high = min(losses), max(losses)
    span_x = max(max(steps) - min(steps), 1)
    span_y = (high - low) or 1.0
    coords = [
        (
            pad + (s - min(steps)) / span_x * (width - 2 * pad),
            pad + (high - v) / span_y * (height - 2 * pad),
        )
        for s, v in points
    ]
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)


def loss_curve_html(results: Sequence[StageResult], *, title: str) -> str:
    """One chart per stage (loss against step) and a table of each stage's figures."""
    width, height, pad = 420, 220, 30
    charts = []
    for result in results:
        if len(result.losses) < 1:
            continue
        colour = _COLOURS.get(result.stage, "#333")
        points = result.losses if len(result.losses) > 1 else [*result.losses, result.losses[0]]
        low, high = min(v for _, v in points), max(v for _, v in points)
        charts.append(
            f"<figure><figcaption>{result.stage.upper()} loss ({result.steps} steps)</figcaption>"
            f'<svg width="{width}" height="{height}" role="img" aria-label="{result.stage} loss curve">'
            f'<rect width="{width}" height="{height}" fill="#fff" stroke="#ccc"/>'
            f'<text x="4" y="{pad - 8}" font-size="11">{high:.3f}</text>'
            f'<text x="4" y="{height - 6}" font-size="11">{low:.3f}</text>'
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{_polyline(points, width=width, height=height, pad=pad)}"/></svg></figure>'
        )
    tables = "".join(
        f"<table><tr><th colspan='2'>{result.stage.upper()}</th></tr>"
        + "".join(
            f"<tr><td>{html.escape(key)}</td><td>{html.escape(str(value))}</td></tr>"
            for key, value in result.figures().items()
        )
        + "</table>"
        for result in results
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif}figure{display:inline-block;margin:8px}"
        "table{border-collapse:collapse;display:inline-table;margin:8px}td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px}</style>"
        f"</head><body><h3>{html.escape(title)}</h3>{''.join(charts)}"
        f"<div>{tables}</div></body></html>"
    )

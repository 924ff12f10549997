"""The evaluation's outputs for people: a text table, an HTML report, and the JSON file.

- :func:`format_table`: rows (version x arm) x metrics as aligned text, each score with its
  bootstrap 95% interval (what ``poe demo`` and the run print);
- :func:`render_html`: a self-contained page (no scripts, no external assets) with the table,
  one bar chart per metric and every answer beside the author's reference;
- :func:`save_results`: ``STATE_DIR/evaluation/<UTC time>/results.json`` and ``report.html``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from llm_engineering.domain.metrics import RUN_METRICS, VERSION_METRICS
from llm_engineering.model.evaluation.results import EvaluationResults


def _format(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.3f}"


def _with_interval(value: float | None, interval: tuple[float, float] | list[float] | None) -> str:
    """``0.297 [0.25, 0.34]``: the score and its bootstrap 95% interval."""
    if value is None:
        return "-"
    if interval is None:
        return _format(value) + " [-]"
    return f"{_format(value)} [{_format(interval[0])}, {_format(interval[1])}]"


def _best_per_arm(results: EvaluationResults, metric: str) -> set[str]:
    """Row keys of the best version on ``metric`` within each arm (only when an arm has two or more scores)."""
    best: set[str] = set()
    sign = 1 if VERSION_METRICS[metric].better == "lower" else -1
    for arm in results.arms:
        scored = {n: s for n, s in results.scores_of(metric, arm).items() if s is not None}
        if len(scored) > 1:
            best.add(f"{min(scored, key=lambda n: sign * scored[n])}/{arm}")
    return best


def _arrow(metric: str) -> str:
    spec = VERSION_METRICS.get(metric) or RUN_METRICS.get(metric)
    return "" if spec is None else (" ↓" if spec.better == "lower" else " ↑")


def aligned_table(rows: Sequence[Sequence[object]]) -> str:
    """``rows`` (the first is the header) as left-aligned text columns, a rule under the header."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


ARM_TITLES = {
    "served": "served arm: passages retrieved as the API retrieves them, the sample's own document left out",
    "bare": "bare arm: no passages",
}


def format_table(results: EvaluationResults) -> str:
    """One block per arm: metrics x versions, each score with its bootstrap 95% interval ``[low, high]``.

    ↓/↑ say which way is better, ``*`` marks the best version of the arm. Run-level scores
    (retrieval), the attribution classifier's own accuracy, notes and the promotion decision
    follow the tables.
    """
    lines: list[str] = []
    for arm in results.arms:
        rows_of_arm = [v for v in results.versions if v.arm == arm]
        header = [
            "metric",
            *(v.name + (" (production)" if v.name == results.production else "") for v in rows_of_arm),
        ]
        body = []
        for metric in results.metrics:
            best = _best_per_arm(results, metric)
            body.append(
                [
                    f"{metric}{_arrow(metric)}",
                    *(
                        _with_interval(v.scores.get(metric), v.intervals.get(metric))
                        + ("*" if v.key in best else "")
                        for v in rows_of_arm
                    ),
                ]
            )
        lines += [ARM_TITLES.get(arm, f"{arm} arm"), aligned_table([header, *body]), ""]
    if results.run_scores:
        run_intervals = results.details.get("retrieval", {}).get("intervals", {})
        lines.append(
            "feature store: "
            + ", ".join(
                f"{m}{_arrow(m)} {_with_interval(s, run_intervals.get(m))}"
                for m, s in results.run_scores.items()
            )
        )
    attribution = results.details.get("attribution")
    if attribution:
        lines.append(_classifier_line(attribution))
    lines += [f"note: {note}" for note in results.notes]
    if results.promotion is not None:
        verb = "promoted" if results.promotion.promote else "not promoted"
        lines.append(f"promotion ({verb}): {results.promotion.reason}")
    return "\n".join(lines)


def _classifier_line(attribution: dict) -> str:
    return (
        f"attribution classifier: held-out accuracy {attribution['classifier_accuracy']:.3f} "
        f"(author recall {attribution['author_recall']:.3f}, other authors rejected "
        f"{attribution.get('other_specificity', float('nan')):.3f}, shuffled author text rejected "
        f"{attribution.get('shuffled_rejected', float('nan')):.3f}; texts cut to {attribution.get('words', '?')} words)"
    )


def summary_line(results: EvaluationResults) -> str:
    """One line: versions, samples, the primary metric's best and the promotion."""
    scores = {n: s for n, s in results.scores_of(results.primary_metric).items() if s is not None}
    shown = ", ".join(f"{n} {_format(s)}" for n, s in scores.items()) or "no scores"
    versions = len({v.name for v in results.versions})
    line = (
        f"{versions} versions x {len(results.arms)} arms on {len(results.samples)} test samples; "
        f"{results.primary_metric}{_arrow(results.primary_metric)} ({results.primary_arm}): {shown}"
    )
    if results.promotion is not None:
        line += f"; {'promoted ' + str(results.promotion.winner) if results.promotion.promote else 'production unchanged'}"
    return line


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:80em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;vertical-align:top}
th{background:#f3f3f3}.best{font-weight:bold;background:#e8f5e9}.num{text-align:right}
.bar{display:flex;align-items:center;margin:.2em 0}.bar span{width:14em}.bar svg{margin:0 .5em}
.answers td{white-space:pre-wrap;font-size:.9em;max-width:30em}.note{color:#a33}
"""


def _bars(results: EvaluationResults, metric: str) -> str:
    values = [v.scores.get(metric) for v in results.versions]
    values = [s for s in values if s is not None]
    if not values:
        return ""
    top = max(abs(v) for v in values) or 1.0
    spec = VERSION_METRICS[metric]
    rows = []
    for v in results.versions:
        score = v.scores.get(metric)
        width = 0 if score is None else max(1, int(300 * abs(score) / top))
        rows.append(
            f'<div class="bar"><span>{html.escape(v.key)}</span>'
            f'<svg width="300" height="14" role="img"><rect width="{width}" height="14" fill="#4a7bd0"/></svg>'
            f"{_with_interval(score, v.intervals.get(metric))}</div>"
        )
    title = f"{spec.label} ({spec.better} is better): {spec.meaning}"
    return f"<h3>{html.escape(title)}</h3>" + "".join(rows)


def render_html(results: EvaluationResults) -> str:
    """A self-contained HTML report: table per version, bars per metric, answers beside the references."""
    e = html.escape
    metrics = results.metrics
    head = "".join(f"<th>{e(VERSION_METRICS[m].label)}{_arrow(m)}</th>" for m in metrics)
    rows = []
    best = {m: _best_per_arm(results, m) for m in metrics}
    for v in results.versions:
        cells = []
        for m in metrics:
            css = "num best" if v.key in best[m] else "num"
            cells.append(f'<td class="{css}">{e(_with_interval(v.scores.get(m), v.intervals.get(m)))}</td>')
        label = e(v.name) + (" <em>(production)</em>" if v.name == results.production else "")
        rows.append(f"<tr><td>{label}</td><td>{e(v.stage)}</td><td>{e(v.arm)}</td>{''.join(cells)}</tr>")
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>LLM Twin evaluation {e(results.created_at)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Evaluation of {e(results.author)}'s twin</h1>",
        f"<p>{e(results.created_at)} · {len(results.samples)} test samples from <code>{e(results.dataset)}</code>"
        f" · primary metric <b>{e(results.primary_metric)}</b> ({e(results.primary_arm)} arm)"
        " · every score with its bootstrap 95% interval</p>",
        f"<table><tr><th>version</th><th>stage</th><th>arm</th>{head}</tr>{''.join(rows)}</table>",
    ]
    if results.run_scores:
        parts.append(
            "<p>Feature store: "
            + ", ".join(
                f"{e(RUN_METRICS[m].label)} "
                f"{_with_interval(s, results.details.get('retrieval', {}).get('intervals', {}).get(m))}"
                for m, s in results.run_scores.items()
            )
            + "</p>"
        )
    attribution = results.details.get("attribution")
    if attribution:
        parts.append(
            f"<p>{e(_classifier_line(attribution))} (a rate means little when accuracy is near 0.5).</p>"
        )
    if results.promotion is not None:
        verb = "promoted" if results.promotion.promote else "not promoted"
        parts.append(f"<p><b>Promotion ({verb}):</b> {e(results.promotion.reason)}</p>")
    parts += [f'<p class="note">{e(note)}</p>' for note in results.notes]
    parts.append("<h2>Scores</h2>")
    parts += [_bars(results, m) for m in metrics]
    parts.append("<h2>Answers</h2>")
    names = [v.key for v in results.versions]
    heading = "".join(f"<th>{e(n)}</th>" for n in names)
    for i, sample in enumerate(results.samples):
        answers = "".join(f"<td>{e(results.answers[n][i])}</td>" for n in names)
        parts.append(
            f"<h3>{i + 1}. {e(sample.instruction)}</h3><table class='answers'>"
            f"<tr><th>reference ({e(results.author)})</th>{heading}</tr>"
            f"<tr><td>{e(sample.reference)}</td>{answers}</tr></table>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def save_results(results: EvaluationResults, *, root: Path, now: datetime | None = None) -> Path:
    """Write ``results.json`` and ``report.html`` into ``root/<UTC time>/``; returns that folder."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    folder = Path(root) / stamp
    suffix = 1
    while folder.exists():
        suffix += 1
        folder = Path(root) / f"{stamp}-{suffix}"
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(
        json.dumps(results.model_dump(mode="json"), indent=2, ensure_ascii=False), encoding="utf-8"
    )
    (folder / "report.html").write_text(render_html(results), encoding="utf-8")
    return folder

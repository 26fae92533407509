"""What a pipeline run reports: the before/after table, the training curves and the run record for the card."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from st_plus._version import __version__
from st_plus.run_record import RunRecord
from st_plus.training.task_losses import TASK_LOSS_PREFIX

logger = logging.getLogger(__name__)

_CURVE_KEYS = [("loss", "training loss"), ("learning_rate", "learning rate"),
               ("dynamic_negatives/mean_negative_score", "mean hard-negative score")]  # fmt: skip


def table(evaluations: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Markdown: one row per task, one column per evaluation point (x100), and the change from first to last."""
    points = [p for p in evaluations if evaluations[p]]
    if not points:
        return "(no evaluation tasks)"
    tasks = list(dict.fromkeys(t for p in points for t in evaluations[p]))
    head = ["task", "type", "metric", *points]
    if len(points) > 1:
        head.append(f"{points[-1]} - {points[0]}")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 3 + "---:|" * (len(head) - 3)]
    for task in tasks:
        first = next(evaluations[p][task] for p in points if task in evaluations[p])
        cells = [task, first["task_type"], first["metric"]]
        values = [evaluations[p].get(task, {}).get("value") for p in points]
        cells += ["" if v is None else f"{100 * v:.2f}" for v in values]
        if len(points) > 1:
            both = values[0] is not None and values[-1] is not None
            cells.append(f"{100 * (values[-1] - values[0]):+.2f}" if both else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _history(folder: Path) -> list[dict[str, Any]]:
    path = folder / "log_history.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []


def plot_curves(out: Path, stages: list[str], evaluations: dict[str, dict[str, dict[str, Any]]]) -> Path | None:
    """``curves.png``: loss, learning rate and hard-negative score per step (stages side by side), eval scores."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is a dependency; keep the run going without it
        logger.warning("matplotlib is not installed: no curves.png")
        return None
    geometry = any("uniformity" in r for p in evaluations for r in evaluations[p].values())
    panels = len(_CURVE_KEYS) + 1 + geometry
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4))
    offset = 0
    for stage in stages:
        history = _history(out / "stages" / stage)
        for ax, (key, _) in zip(axes, _CURVE_KEYS, strict=False):
            for label, name in _curve_lines(stage, key, history):
                points = [(offset + h["step"], h[name]) for h in history if name in h and "step" in h]
                if points:
                    ax.plot(*zip(*points, strict=True), label=label, marker="." if len(points) < 30 else None)
        offset += max((h.get("step", 0) for h in history), default=0)
    if any(min(line.get_ydata()) > 0 for line in axes[0].lines):
        axes[0].set_yscale("log")  # tasks' losses differ by orders of magnitude (Consent ~25, InfoNCE ~1)
    for ax, (_, title) in zip(axes, _CURVE_KEYS, strict=False):
        ax.set_title(title)
        ax.set_xlabel("step (stages in order)")
        if ax.lines:
            ax.legend()
    ax = axes[len(_CURVE_KEYS)]
    points = [p for p in evaluations if evaluations[p]]
    tasks = list(dict.fromkeys(t for p in points for t in evaluations[p]))
    for task in tasks:
        ys = [100 * evaluations[p][task]["value"] if task in evaluations[p] else float("nan") for p in points]
        ax.plot(points, ys, marker="o", label=task)
    ax.set_title("main score (x100) after each stage")
    if tasks:
        ax.legend(fontsize=6)
    if geometry:
        _plot_alignment_uniformity(axes[-1], points, tasks, evaluations)
    fig.tight_layout()
    path = out / "curves.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _curve_lines(stage: str, key: str, history: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(legend label, log key) of the lines one stage draws for ``key``: one per task for a multi-task loss."""
    if key == "loss":
        tasks = sorted({k[len(TASK_LOSS_PREFIX):] for h in history for k in h if k.startswith(TASK_LOSS_PREFIX)})
        if tasks:
            return [(f"{stage}: {task}", TASK_LOSS_PREFIX + task) for task in tasks]
    prefix, _, metric = key.rpartition("/")
    if prefix == "dynamic_negatives":  # several dynamic tasks log dynamic_negatives/<task>/<metric>
        per_task = sorted({k for h in history for k in h if k.startswith(prefix + "/") and k.endswith("/" + metric)
                           and k.count("/") == 2})  # fmt: skip
        if per_task:
            return [(f"{stage}: {k.split('/')[1]}", k) for k in per_task]
    return [(stage, key)]


def _plot_alignment_uniformity(ax: Any, points: list[str], tasks: list[str], evaluations: dict[str, Any]) -> None:
    """Wang & Isola's plane: each task's (uniformity, alignment) at each evaluation point; lower-left is better."""
    for task in tasks:
        marks = [(p, evaluations[p][task]) for p in points if "alignment" in evaluations[p].get(task, {})]
        if marks:
            ax.plot([m["uniformity"] for _, m in marks], [m["alignment"] for _, m in marks], marker="o", label=task)
            for point, m in marks:
                ax.annotate(point, (m["uniformity"], m["alignment"]), fontsize=6)
    ax.set_title("alignment vs uniformity (lower is better)")
    ax.set_xlabel("uniformity")
    ax.set_ylabel("alignment")
    if ax.lines:
        ax.legend(fontsize=6)


def _base_model_name(recipe: Any) -> str:
    base = recipe.model.base
    if base is None:
        return f"NomicBERT-style {recipe.stages.mlm.preset} encoder pre-trained from scratch (masked LM)"
    if base == "default":
        return "sentence-transformers/all-MiniLM-L6-v2"
    return base if not Path(base).exists() else Path(base).name


def run_info(recipe: Any, state: dict[str, Any], hardware: dict[str, Any]) -> RunRecord:
    """The run's record (``st_plus_run.json``, read by ``st_plus.hub`` for the model card) from the pipeline state.

    Raises:
        RunInfoError: The state holds something the record cannot (names the key).
    """
    evaluations = state.get("evaluations", {})
    points = [p for p in evaluations if evaluations[p]]
    last = evaluations[points[-1]] if points else {}
    before = evaluations.get("start", {})
    results = [
        {"task": task, "task_type": r["task_type"], "dataset": task, "language": r.get("language"),
         "split": r.get("split"), "metric": r["metric"], "value": r["value"],
         "before": before.get(task, {}).get("value")}
        for task, r in last.items()
    ]  # fmt: skip
    stages, extra = [], {}
    for name in recipe.stage_names():
        done = dict(state.get("done", {}).get(name, {}))
        if "extra" in done:
            extra[name] = done.pop("extra")
        entry = {"name": name, **done}
        if name == "contrastive" and "filter" in state.get("done", {}):
            stats = state["done"]["filter"]
            entry["filtering"] = {"rows_in": stats["rows_in"], "rows_dropped": stats["rows_in"] - stats["rows_out"],
                                  "side_file": stats["side_file"]}  # fmt: skip
            extra["filtering"] = stats
        stages.append(entry)
    info: dict[str, Any] = {
        "st_plus_version": __version__,
        "base_model": _base_model_name(recipe),
        "recipe": {"name": recipe.name, "file": "recipe.resolved.yaml"},
        "stages": stages,
        "results": results,
        "hardware": {k: hardware[k] for k in ("cpu", "gpu", "processes")},
        "training_seconds": state.get("training_seconds"),
        "extra": {**extra, "hardware": hardware, "evaluations": evaluations, "warnings": state.get("warnings", [])},
    }
    long = extra.get("long_context")
    if long:  # the card's "Late chunking" section: the context length trained for and the chunking expected
        low, high = long["window_tokens"]
        info["late_chunking"] = {"mode": "late", "context length": f"{long['context_length']} tokens",
                                 "trained on windows of": f"{low}-{high} tokens"}  # fmt: skip
        if "chunk_window" in long:  # runs before these keys state no window rather than a guessed one
            window = f"{long['chunk_window']} tokens"
            if long.get("chunk_overlap"):
                window += f" ({long['chunk_overlap']} of them context shared with the previous window)"
            info["late_chunking"].update({"expected window": window, "expected chunker": long["chunker"]})
        if long.get("span_target") == "chunk":
            info["late_chunking"]["trained to pool"] = (f"one {long['chunker']} chunk inside each gold answer range "
                                                        "(else the one overlapping it most)")
    if last and recipe.evaluation.matryoshka_dims:
        dims = sorted({d for r in last.values() for d in r.get("by_dim", {})}, key=int, reverse=True)
        info["matryoshka"] = {
            "dims": [int(d) for d in dims],
            "scores": {d: {t: r["by_dim"].get(d) for t, r in last.items()} for d in dims},
        }
    return RunRecord.from_dict(info)

"""The Matryoshka plot of the model card: main score per task against the embedding dimension."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_matryoshka(matryoshka: dict[str, Any], path: str | Path) -> Path:
    """Draws ``matryoshka`` (``st_plus_run.json``'s entry: ``dims`` and ``scores[dim][task]``) as a PNG.

    One line per task, the dimension on a log-2 x axis (largest on the right), the score on the y axis.

    Args:
        matryoshka: ``{"dims": [384, 256, ...], "scores": {"384": {"task": 0.93, ...}, ...}}``.
        path: Where to write the PNG (parent folders are created).

    Returns:
        The written path.

    Raises:
        ImportError: matplotlib is missing (a dependency of st_plus; reinstall it).
    """
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError("The Matryoshka plot needs matplotlib: pip install matplotlib.") from exc
    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt

    dims = sorted(int(d) for d in matryoshka["dims"])
    scores = {int(dim): by_task for dim, by_task in matryoshka["scores"].items()}
    tasks = list(dict.fromkeys(task for dim in dims for task in scores.get(dim, {})))
    figure, axes = plt.subplots(figsize=(6, 3.6), dpi=100)
    for task in tasks:
        points = [(dim, scores[dim][task]) for dim in dims if task in scores.get(dim, {})]
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=task)
    axes.set_xscale("log", base=2)
    axes.set_xticks(dims, [str(d) for d in dims])
    axes.minorticks_off()
    axes.set_xlabel("embedding dimension (truncated, renormalised)")
    axes.set_ylabel("main score")
    axes.set_title("Matryoshka: score by dimension")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small", loc="best")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", metadata={"Software": None})
    plt.close(figure)
    return path

"""How good ``plain`` gets with more time: every stored dev run of bench_recipe_vs_st.py's ``plain`` arm by budget.

    python benchmarks/plain_budget_curve.py --output benchmarks/results/plain_budget_curve.json

``plain`` (a strong plain sentence-transformers user's run on the recipe's rows) gets the wall clock of an st_plus
run of its seed, so a faster st_plus run also shortens ``plain``. This reads every dev results file of
``benchmarks/bench_recipe_vs_st.py report`` (``benchmarks/results/recipe_vs_st*.json``; not the ``_test`` /
``_fresh`` files, and only those of the ablation recipe ``benchmarks/recipes/recipe_vs_st.yaml``), keeps the ones
whose ``start`` arm scored the same dev suite (the same scores as ``--reference``'s), and lists each distinct
``plain`` run (seed, seconds, steps, its loading + mining seconds, dev retrieval and all-task mean) by budget, next
to each st_plus arm's mean, so that "st_plus in S seconds against plain at any budget tried" is read from one table.
Budget bands: the runs of each results file (its 3 seeds) as one point. Nothing is trained or scored here.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
RECIPE = "benchmarks/recipes/recipe_vs_st.yaml"
REFERENCE = "recipe_vs_st_siblings.json"  # its start arm names the dev suite (benchmarks/make_dev_suite.py)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("recipe_vs_st*.json") if not p.stem.endswith(("_test", "_fresh")))


def collect(folder: Path, reference: str = REFERENCE) -> dict:
    """The distinct ``plain`` runs and the st_plus arms' means of every dev results file in ``folder`` whose
    ``start`` scores equal those of ``reference`` (the same dev suite)."""
    files = [(p, json.loads(p.read_text(encoding="utf-8"))) for p in _files(folder)]
    files = [(p, d) for p, d in files if d.get("recipe") == RECIPE and "start" in d.get("arms", {})]
    if not files:
        raise SystemExit(f"no dev results of {RECIPE} with a start arm under {folder}")
    ref = next((d for p, d in files if p.name == reference), None)
    if ref is None:
        raise SystemExit(f"{folder / reference}: no such dev results file of {RECIPE} with a start arm")
    suite, tasks = ref["arms"]["start"]["mean"], ref["tasks"]
    same = [(p, d) for p, d in files if d["tasks"] == tasks
            and all(abs(d["arms"]["start"]["mean"][t] - suite[t]) < 1e-6 for t in tasks)]  # fmt: skip
    skipped = sorted(p.name for p, _ in files if all(p != q for q, _ in same))
    by_file, seen, st_plus = {}, set(), []
    for path, data in same:
        arm = data["arms"].get("plain")
        if arm is not None:
            by_file[path.name] = {
                (seed, run["seconds"], round(run["retrieval"], 6)): {
                    "file": path.name, "seed": int(seed), "seconds": run["seconds"], "steps": run.get("steps"),
                    "loading_and_mining_seconds": run.get("info", {}).get("mining_seconds"),
                    "retrieval": run["retrieval"], "all": run["all"]}
                for seed, run in sorted(arm["per_seed"].items())
            }  # fmt: skip
        for name, arm in data["arms"].items():
            if not name.startswith("st_plus") or not arm["mean"].get("seconds"):
                continue
            key = (name, arm["mean"]["seconds"], round(arm["mean"]["retrieval"], 6))
            if key not in seen:  # once per set of runs, however many files link it
                seen.add(key)
                st_plus.append({"file": path.name, "arm": name, "seeds": arm["seeds"],
                                "seconds": arm["mean"]["seconds"], "retrieval": arm["mean"]["retrieval"],
                                "all": arm["mean"]["all"]})  # fmt: skip
    # one point per distinct set of runs: a file whose runs are all in another file (linked runs) adds none
    points, plain = [], {}
    for name, runs in by_file.items():
        keys = set(runs)
        if any(keys < set(other) or (keys == set(other) and other_name < name)
               for other_name, other in by_file.items() if other_name != name):  # fmt: skip
            continue
        mean = {k: statistics.fmean(r[k] for r in runs.values()) for k in ("seconds", "retrieval", "all")}
        points.append({"file": name, "runs": len(runs), **mean})
    for runs in by_file.values():
        for key, run in runs.items():
            plain.setdefault(key, run)
    plain = sorted(plain.values(), key=lambda r: r["seconds"])
    points.sort(key=lambda r: r["seconds"])
    best = max(plain, key=lambda r: r["retrieval"])
    return {"recipe": RECIPE, "files": [p.name for p, _ in same], "skipped_other_suite": skipped,
            "plain_runs": plain, "plain_by_file": points, "st_plus_arms": st_plus,
            "plain_best_retrieval": best}  # fmt: skip


def table(data: dict) -> str:
    lines = ["| plain runs of | runs | mean wall s | dev retrieval | dev mean (all) |", "|---|---:|---:|---:|---:|"]
    for p in data["plain_by_file"]:
        lines.append(f"| {p['file']} | {p['runs']} | {p['seconds']:.0f} | {p['retrieval']:.2f} | {p['all']:.2f} |")
    best = data["plain_best_retrieval"]
    lines += ["", f"Best single plain run: {best['retrieval']:.2f} dev retrieval ({best['file']}, "
              f"seed {best['seed']}, {best['seconds']:.0f} s, {best['steps']} steps).", "",
              "| st_plus arm (file) | seeds | mean wall s | dev retrieval | dev mean (all) |",
              "|---|---:|---:|---:|---:|"]  # fmt: skip
    for a in sorted(data["st_plus_arms"], key=lambda a: -a["retrieval"]):
        lines.append(f"| {a['arm']} ({a['file']}) | {len(a['seeds'])} | {a['seconds']:.0f} | {a['retrieval']:.2f} | "
                     f"{a['all']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=RESULTS, help="the folder of the results files")
    parser.add_argument("--reference", default=REFERENCE, help="the results file whose start arm names the suite")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    data = collect(args.results, args.reference)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(table(data))


if __name__ == "__main__":
    main()

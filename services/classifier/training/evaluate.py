"""``make eval``: reproduce the published protocols on ``../shared/datasets``.

``python -m services.classifier.evaluate [--datasets DIR] [--out eval/results.json] [--only TEXT]``
``python -m services.classifier.evaluate --triage [--sample N]``: the product's own decision on real
traffic (``triage``: false drops, reply recall, spam recall, workload per stream), written to
``eval/triage.json``. ``make eval`` runs both.

For every dataset/task in ``protocols.SPECS`` both recipes (``recipes.baseline`` and
``recipes.fit_ours``) are fitted on each training fold only and scored on its test fold; a
figure is the mean over folds. Prints OUR figure beside the PUBLISHED one and the BASELINE,
writes ``eval/results.json`` (a list of {dataset, task, metric, ours, published, baseline,
split, notes}). Folds run in parallel (``--jobs``, default 2); progress goes to stderr. Without
the datasets folder it says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from services.classifier.training import recipes
from services.classifier.training.datasets import DatasetMissing, Protocol
from services.classifier.training.protocols import METRICS, SPECS, Spec
from shared.settings import ROOT

DEFAULT_DATASETS = ROOT.parent / "shared" / "datasets"
DEFAULT_OUT = ROOT / "eval" / "results.json"
DEFAULT_TRIAGE_OUT = ROOT / "eval" / "triage.json"


def progress(message: str) -> None:
    sys.stderr.write(f"[eval] {message}\n")
    sys.stderr.flush()


def run_fold(
    protocol: Protocol, fold: int, metric: str, language: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Fit both recipes on the fold's training rows; predict its test rows."""
    train, test = protocol.folds[fold]
    x, y = np.array(protocol.texts, dtype=object), np.array(protocol.labels)
    base = recipes.baseline().fit(x[train], y[train]).predict(x[test])
    ours, params = recipes.fit_ours(x[train], y[train], METRICS[metric], language)
    return y[test], base, ours.predict(x[test]), params


def rows_for(spec: Spec, protocol: Protocol, results: list) -> list[dict]:
    """One result row per metric: the mean over folds for each recipe."""
    rows = []
    chosen = sorted(
        {f"{p['features']}/C={p['C']}/{p['class_weight'] or 'unweighted'}" for *_, p in results}
    )
    for metric in spec.metrics:
        score = METRICS[metric]
        ours = float(np.mean([score(y, o) for y, _, o, _ in results]))
        base = float(np.mean([score(y, b) for y, b, _, _ in results]))
        rows.append(
            {
                "dataset": protocol.dataset,
                "task": protocol.task,
                "metric": metric,
                "ours": round(ours, 4),
                "published": spec.published.get(metric),
                "baseline": round(base, 4),
                "split": protocol.split,
                "notes": [
                    *protocol.notes,
                    *spec.notes,
                    f"ours chose {', '.join(chosen)} by inner CV",
                ],
            }
        )
    return rows


def verdict(row: dict) -> str:
    target = max(row["baseline"], row["published"] or 0.0)
    if row["ours"] >= target:
        return "at/above target"
    below = "published" if (row["published"] or 0.0) > row["baseline"] else "baseline"
    return f"BELOW {below} by {target - row['ours']:.3f}"


def render(rows: list[dict]) -> str:
    """The table ``make eval`` prints."""
    head = f"{'dataset':<26}{'task':<16}{'metric':<11}{'ours':>7}{'published':>10}{'baseline':>9}  verdict"
    lines = [head, "-" * len(head)]
    for r in rows:
        published = "-" if r["published"] is None else f"{r['published']:.4f}"
        lines.append(
            f"{r['dataset']:<26}{r['task']:<16}{r['metric']:<11}{r['ours']:>7.4f}{published:>10}"
            f"{r['baseline']:>9.4f}  {verdict(r)}"
        )
    return "\n".join(lines)


def evaluate(datasets: Path, only: str = "", jobs: int = 2) -> list[dict]:
    """Run every matching protocol; returns the result rows (also for tests)."""
    loaded = []
    for spec in SPECS:
        try:
            protocol = spec.load(datasets)
        except DatasetMissing as exc:
            progress(f"skipped: {exc}")
            continue
        if only in f"{protocol.dataset}/{protocol.task}":
            loaded.append((spec, protocol))
    work = [(i, f) for i, (_, p) in enumerate(loaded) for f in range(len(p.folds))]
    progress(f"{len(loaded)} protocols, {len(work)} fits of both recipes on {jobs} processes")
    started, results = time.monotonic(), {i: [] for i in range(len(loaded))}
    calls = (
        delayed(run_fold)(loaded[i][1], f, loaded[i][0].metrics[0], loaded[i][0].language)
        for i, f in work
    )
    for n, ((i, f), result) in enumerate(
        zip(work, Parallel(n_jobs=jobs, return_as="generator")(calls)), 1
    ):
        results[i].append(result)
        protocol = loaded[i][1]
        progress(
            f"{n}/{len(work)} {protocol.dataset}/{protocol.task} fold {f + 1}/{len(protocol.folds)} "
            f"({time.monotonic() - started:.0f}s)"
        )
    return [
        row
        for i, (spec, protocol) in enumerate(loaded)
        for row in rows_for(spec, protocol, results[i])
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--only", default="", help="run protocols whose dataset/task contains this text"
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--triage",
        action="store_true",
        help="only the triage report (the stage's decision on "
        "real traffic), written to eval/triage.json",
    )
    parser.add_argument(
        "--all", action="store_true", help="the academic protocols and the triage report"
    )
    parser.add_argument(
        "--sample", type=int, default=0, help="triage: a fixed sample of N messages per stream"
    )
    parser.add_argument("--triage-out", type=Path, default=DEFAULT_TRIAGE_OUT)
    args = parser.parse_args(argv)
    if not args.datasets.is_dir():
        progress(
            f"skipped: no datasets folder at {args.datasets} (expected ../shared/datasets beside the "
            "repository, or pass --datasets DIR); nothing evaluated"
        )
        return 0
    if args.triage or args.all:
        run_triage(args.datasets, args.triage_out, args.sample)
        if args.triage:
            return 0
    rows = evaluate(args.datasets, args.only, args.jobs)
    print(render(rows))
    for split in dict.fromkeys(f"{r['dataset']}/{r['task']}: {r['split']}" for r in rows):
        print(f"  split {split}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    progress(f"wrote {args.out}")
    return 0


def run_triage(datasets: Path, out: Path, sample: int = 0) -> list[dict]:
    """The triage report with the shipped models and settings; printed and written to ``out``."""
    from services.classifier.serving import bundle
    from services.classifier.settings import ClassifierSettings
    from services.classifier.training import triage

    models = bundle.load_models(ClassifierSettings())
    rows = triage.evaluate(datasets, models, sample, progress=progress)
    print("Triage on real traffic (the classifier stage's own decision; eval/triage.json)")
    print(triage.render(rows))
    triage.write(rows, out, {"sample_per_stream": sample or None, "models": models.describe()})
    progress(f"wrote {out}")
    return rows


if __name__ == "__main__":
    sys.exit(main())

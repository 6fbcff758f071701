"""Model commands a user runs on their own data: ``python -m services.classifier.cli COMMAND``.

* ``train --task T --input F --text-column C --label-column L [--out DIR] [--name N]``:
  fit a task model on a CSV/JSONL file; writes ``N.skops`` + ``N.json`` (N defaults to T).
* ``evaluate --task T --input F [...columns] [--models DIR] [--name N]``: score a saved model
  on labelled rows; prints the figures as JSON.
* ``classify --input messages.jsonl --output decisions.jsonl``: the full classifier stage
  (rules, spam model, language) on every message, in bulk, with scores and explanations.
* ``retrain [--database-url URL] [--models DIR] [--datasets DIR] [--only FAMILY] [--dry-run]``:
  candidates from the shipped data plus stored corrections, compared with the live models on
  the held evaluation sets and held-out corrections; promoted only if not worse (``retrain``).

Progress goes to stderr; exit status 2 with a one-line message on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from services.classifier.serving.model import UntrustedArtifact
from services.classifier.serving.registry import RegistryError
from services.classifier.serving.tasks import TaskModel
from services.classifier.training import bulk, task_models, userdata
from services.classifier.training.retrain import TASK_FAMILIES, TOLERANCE
from shared.settings import ROOT

DEFAULT_MODELS = ROOT / "services" / "classifier" / "models"


def progress(message: str) -> None:
    sys.stderr.write(f"[classifier] {message}\n")
    sys.stderr.flush()


def _columns(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", type=Path, required=True, help="CSV (header row) or JSONL file")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m services.classifier.cli", description=__doc__.splitlines()[0]
    )
    commands = root.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="fit a task model on labelled CSV/JSONL")
    train.add_argument("--task", required=True)
    _columns(train)
    train.add_argument("--out", type=Path, default=DEFAULT_MODELS)
    train.add_argument("--name", help="artifact name (default: the task)")
    train.add_argument(
        "--language",
        help="ISO 639-1 code of the texts (e.g. de): inner CV then also tries word "
        "n-grams over spaCy tokens and lemmas",
    )
    evaluate = commands.add_parser(
        "evaluate", help="score a saved task model on labelled CSV/JSONL"
    )
    evaluate.add_argument("--task", required=True)
    _columns(evaluate)
    evaluate.add_argument("--models", type=Path, default=DEFAULT_MODELS)
    evaluate.add_argument("--name", help="artifact name (default: the task)")
    classify = commands.add_parser(
        "classify", help="run the classifier stage over a JSONL of messages"
    )
    classify.add_argument("--input", type=Path, required=True)
    classify.add_argument("--output", type=Path, required=True)
    classify.add_argument(
        "--text-column", default="text", help="for rows that are not full messages"
    )
    retrain = commands.add_parser(
        "retrain", help="retrain from stored corrections; promote only if not worse"
    )
    retrain.add_argument(
        "--database-url", help="where the corrections are stored (default: DATABASE_URL)"
    )
    retrain.add_argument("--models", type=Path, default=DEFAULT_MODELS)
    retrain.add_argument(
        "--datasets",
        type=Path,
        default=ROOT.parent / "shared" / "datasets",
        help="shipped spam training data and held evaluation sets",
    )
    retrain.add_argument(
        "--only", choices=["spam", *TASK_FAMILIES], help="retrain this family only"
    )
    retrain.add_argument(
        "--tolerance",
        type=float,
        default=TOLERANCE,
        help="how much lower a figure may be and still count as not worse",
    )
    retrain.add_argument(
        "--dry-run", action="store_true", help="compare and report, promote nothing"
    )
    return root


def run_retrain(args: argparse.Namespace) -> list[dict]:
    from services.classifier import feedback
    from services.classifier.settings import ClassifierSettings
    from services.classifier.training import corpus, retrain, train

    settings = ClassifierSettings()
    url = args.database_url or settings.database_url
    examples = feedback.read_corrections(url)
    progress(f"{len(examples)} stored corrections")
    outcomes = []
    if args.only in (None, "spam"):
        try:
            base = corpus.load(args.datasets)
        except corpus.CorpusMissing as exc:
            progress(
                f"spam: cannot retrain: the shipped training data is missing ({exc}); keeping the current model"
            )
            outcomes.append(retrain.Outcome("spam", False, f"shipped training data missing: {exc}"))
        else:
            outcomes.append(
                retrain.retrain_spam(
                    base.texts,
                    base.labels,
                    examples,
                    models_dir=args.models,
                    protocols=retrain.spam_protocols(args.datasets, progress),
                    recipe=train.build_pipeline,
                    progress=progress,
                    threshold=settings.spam_threshold,
                    tolerance=args.tolerance,
                    dry_run=args.dry_run,
                )
            )
    for family in TASK_FAMILIES:
        if args.only in (None, family):
            outcomes.append(
                retrain.retrain_task(
                    family,
                    examples,
                    models_dir=args.models,
                    progress=progress,
                    tolerance=args.tolerance,
                    dry_run=args.dry_run,
                    base=_shipped_base(family, args.datasets),
                )
            )
    return [o.as_dict() for o in outcomes]


def _shipped_base(family: str, datasets: Path) -> tuple[list[str], list[str]] | None:
    """The shipped model's training data for ``family`` (reply_needed), ``None`` when there is none."""
    if family != "reply_needed":
        return None
    from services.classifier.training import replytrain
    from services.classifier.training.datasets import DatasetMissing

    try:
        texts, labels, _ = replytrain.load(datasets)
    except (DatasetMissing, FileNotFoundError) as exc:
        progress(
            f"reply_needed: shipped training data missing ({exc}); fitting on the corrections alone"
        )
        return None
    return texts, labels


def run(args: argparse.Namespace) -> int:
    if args.command == "train":
        texts, labels = userdata.read_labelled(args.input, args.text_column, args.label_column)
        card = task_models.train_task(
            texts,
            labels,
            task=args.task,
            name=args.name or args.task,
            out=args.out,
            progress=progress,
            extra={"sources": [f"user data: {args.input.name}"]},
            language=args.language,
        )
        print(
            json.dumps(
                {"name": card.name, "version": card.version, "evaluation": card.evaluation},
                indent=2,
            )
        )
    elif args.command == "evaluate":
        model = TaskModel.load(args.models, args.name or args.task)
        texts, labels = userdata.read_labelled(args.input, args.text_column, args.label_column)
        progress(f"scoring {model.card.name} {model.card.version} on {len(texts)} rows")
        print(json.dumps(task_models.score_model(model, texts, labels), indent=2))
    elif args.command == "classify":
        count = bulk.classify_file(args.input, args.output, args.text_column, progress)
        progress(f"wrote {count} decisions to {args.output}")
    elif args.command == "retrain":
        print(json.dumps(run_retrain(args), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except userdata.InputError as exc:
        progress(f"error: {exc}")
    except FileNotFoundError as exc:
        progress(
            f"error: {exc.filename or exc} not found (train a model first, or pass --models DIR)"
        )
    except (UntrustedArtifact, RegistryError) as exc:
        progress(f"error: {exc}")
    except SQLAlchemyError as exc:
        progress(
            f"error: cannot read the stored corrections ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
            "is the database migrated (switchboard migrate)?"
        )
    return 2


if __name__ == "__main__":
    sys.exit(main())

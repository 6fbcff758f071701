"""Model commands a user runs on their own data: ``python -m services.classifier.cli COMMAND``.

* ``train --task T --input F --text-column C --label-column L [--out DIR] [--name N]``:
  fit a task model on a CSV/JSONL file; writes ``N.skops`` + ``N.json`` (N defaults to T).
* ``evaluate --task T --input F [...columns] [--models DIR] [--name N]``: score a saved model
  on labelled rows; prints the figures as JSON.
* ``classify --input messages.jsonl --output decisions.jsonl``: the full classifier stage
  (rules, spam model, language) on every message, in bulk, with scores and explanations.

Progress goes to stderr; exit status 2 with a one-line message on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from services.classifier import bulk, training, userdata
from services.classifier.model import UntrustedArtifact
from services.classifier.tasks import TaskModel
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
    root = argparse.ArgumentParser(prog="python -m services.classifier.cli", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="fit a task model on labelled CSV/JSONL")
    train.add_argument("--task", required=True)
    _columns(train)
    train.add_argument("--out", type=Path, default=DEFAULT_MODELS)
    train.add_argument("--name", help="artifact name (default: the task)")
    evaluate = commands.add_parser("evaluate", help="score a saved task model on labelled CSV/JSONL")
    evaluate.add_argument("--task", required=True)
    _columns(evaluate)
    evaluate.add_argument("--models", type=Path, default=DEFAULT_MODELS)
    evaluate.add_argument("--name", help="artifact name (default: the task)")
    classify = commands.add_parser("classify", help="run the classifier stage over a JSONL of messages")
    classify.add_argument("--input", type=Path, required=True)
    classify.add_argument("--output", type=Path, required=True)
    classify.add_argument("--text-column", default="text", help="for rows that are not full messages")
    return root


def run(args: argparse.Namespace) -> int:
    if args.command == "train":
        texts, labels = userdata.read_labelled(args.input, args.text_column, args.label_column)
        card = training.train_task(texts, labels, task=args.task, name=args.name or args.task, out=args.out,
                                   progress=progress, extra={"sources": [f"user data: {args.input.name}"]})
        print(json.dumps({"name": card.name, "version": card.version, "evaluation": card.evaluation}, indent=2))
    elif args.command == "evaluate":
        model = TaskModel.load(args.models, args.name or args.task)
        texts, labels = userdata.read_labelled(args.input, args.text_column, args.label_column)
        progress(f"scoring {model.card.name} {model.card.version} on {len(texts)} rows")
        print(json.dumps(training.score_model(model, texts, labels), indent=2))
    elif args.command == "classify":
        count = bulk.classify_file(args.input, args.output, args.text_column, progress)
        progress(f"wrote {count} decisions to {args.output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except userdata.InputError as exc:
        progress(f"error: {exc}")
    except FileNotFoundError as exc:
        progress(f"error: {exc.filename or exc} not found (train a model first, or pass --models DIR)")
    except UntrustedArtifact as exc:
        progress(f"error: {exc}")
    return 2


if __name__ == "__main__":
    sys.exit(main())

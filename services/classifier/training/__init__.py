"""Offline work on models: training, evaluation, retraining from corrections, bulk runs.

Nothing here is imported by the running service. Entry points: ``python -m
services.classifier.train`` (the shipped models), ``python -m services.classifier.evaluate``
(``make eval``: published protocols and the triage report), ``python -m services.classifier.cli``
(a user's own data: train, evaluate, classify, retrain).

* ``train``: spam-v1 and offense-de-v1 from ``../shared/datasets``; ``replytrain``: reply-needed-v1;
* ``task_models``: fit and score a task model on any labelled texts; ``recipes``: the pipelines;
* ``corpus``, ``datasets``: reading the training and evaluation sets; ``protocols``: the published
  evaluation protocols; ``evaluate``: runs them; ``triage``: the decision measured on real traffic;
  ``sentiment_eval``: the sentiment lexicons' figures;
* ``retrain``: candidates from the shipped data plus stored corrections, promoted only if not worse;
* ``cli``, ``bulk``, ``userdata``: the user-facing command, bulk classification, reading their files.
"""

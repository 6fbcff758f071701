"""Model artifacts in service: loading, checking and swapping what the stage reads.

* ``model``: the spam model (skops artifact + JSON card; trusted types, sha256) and ``normalise``;
* ``tasks``: task models (reply-needed, contact reason, sentiment, offense) — save, load, score;
* ``features``: the fast sparse feature and probability paths both kinds of model share;
* ``registry``: ``models/active.json``, which promoted artifact serves each task;
* ``bundle``: ``load_models(settings) -> Models``, everything the stage needs, loaded once;
* ``reload``: watches the model, rule and author files and swaps ``Models`` between batches.

The artifacts themselves are in ``../models/``; ``training`` writes them.
"""

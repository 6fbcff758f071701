"""Versioned, per-language rules: the files in this folder and the engine that matches them.

``load_dir(rules_dir)`` reads ``<language>.yaml`` and ``taxonomy.yaml`` (the contact reasons and
labels rules may set) into one ``RuleSet`` per language; ``RuleSet.match(text)`` returns the
``Hit``s, in file order. Loading does the I/O and validates everything up front (``RuleFileError``
names the file, the line and the rule); matching is pure.

* ``model``: ``Action``, ``Rule``, ``Hit``, ``RuleSet`` and its ``match``;
* ``prefilter``: case folding, required literals and the Aho-Corasick pass that spare most
  messages most regex scans;
* ``matchers``: spaCy phrase and lemma matchers; ``tokens``: spaCy's blank tokenizers and lemma tables;
* ``loading``: YAML files → rule sets; ``taxonomy`` and ``configfile``: the taxonomy file and the
  versioned-YAML reader both kinds of file share.
"""

from services.classifier.rules.loading import load_dir, load_file
from services.classifier.rules.model import Action, Hit, Rule, RuleFileError, RuleSet

__all__ = ["Action", "Hit", "Rule", "RuleFileError", "RuleSet", "load_dir", "load_file"]

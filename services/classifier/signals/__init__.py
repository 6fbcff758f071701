"""What the decision reads about a message besides rules and models, all pure once loaded.

* ``language``: lingua, batched, over the words (links and handles removed);
* ``sentiment``: VADER for English, the team's lexicon for German (``sentiment_*.tsv`` beside it);
* ``pii``: phone numbers, IBANs, cards, e-mail addresses, masked for the evidence;
* ``authors``: the block and VIP lists (``../authors/*.txt``);
* ``flood``: near-duplicate campaigns (MinHash; ``CampaignDetector`` keeps its state in memory);
* ``spike``: volume spikes per contact reason (``SpikeDetector``, in memory).

The database-backed twins of the two detectors are in ``stores``.
"""

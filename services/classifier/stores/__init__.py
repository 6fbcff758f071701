"""The campaign and spike detectors with their state in the classifier's database, so that every
replica sees the whole account (``CLASSIFIER_SIGNALS_STORE=database``, the default).

* ``campaigns``: ``SharedCampaignDetector`` (``signals.flood``'s signatures, bands in tables);
* ``spikes``: ``SharedSpikeDetector`` (``signals.spike``'s EWMA, counts in tables);
* ``sql``: what both share: the synchronous engine, time encoding, dialect inserts, pruning.

Tables are in ``../tables.py``.
"""

"""The model-call machinery: everything between a test's ``sample()`` and the endpoint.

``client`` turns prompts into calls: it computes each call's key and looks it up in the
response ``cache`` (``cache``), and sends only the misses, paced below the provider's
limits (``pacing``), within the run's spending limits (``budget``) and a deadline over the
whole call (``deadline``); every answer comes back as a ``response.Response`` with the
reasoning trace kept apart (``reasoning``). A dry ``--modelprov-plan`` pass collects the
calls instead (``planning``), and ``--modelprov-batch`` sends the missing ones through the
provider's Batch API (``batch``, ``batchfill``). ``ledger`` counts what each model did,
``progress`` draws the progress line, ``watchdog`` stops an orphaned xdist worker, and
``verdicts`` caches the detectors' verdicts beside the answers they judge.

Nothing is imported here: a module of this package is imported by its own name.
"""

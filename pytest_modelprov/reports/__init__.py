"""What a run measured, and every report of it.

A detector's figure is a ``measurement.Measurement``, recorded on the running test (or,
without a model handle, through ``recording``); the plugin gathers them for the terminal
summary (``terminal``), the JSON report and its Markdown summary (``jsonreport``) and the
self-contained HTML report drawn from the JSON (``htmlreport``).

Nothing is imported here: a module of this package is imported by its own name.
"""

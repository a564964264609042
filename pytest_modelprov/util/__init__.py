"""Files in and out: JSON from elsewhere read with bounds (``safejson``), the package's
JSON Schemas (``schema``) and the files people keep written atomically (``files``).

Nothing is imported here: a module of this package is imported by its own name.
"""

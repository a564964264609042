"""The package's version: one source, read statically by setuptools (pyproject.toml) and
imported by the modules that write it into files, without importing the package."""

__version__ = "0.1.0.dev0"

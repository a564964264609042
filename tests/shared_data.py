"""Where the labelled data for measuring lives (``../shared/data``; not shipped): one
lookup for the tests and the benchmarks that read it."""

from __future__ import annotations

from pathlib import Path


def shared_data(root: Path) -> Path:
    """``../shared/data`` beside the repository; from a git worktree, beside its main
    checkout (the worktree's ``.git`` file names it)."""
    beside = root.parent / "shared" / "data"
    git = root / ".git"
    if not beside.is_dir() and git.is_file():
        text = git.read_text("utf-8")
        if text.startswith("gitdir:"):
            # <main>/.git/worktrees/<name>
            main = Path(text.split(":", 1)[1].strip()).parent.parent.parent
            return main.parent / "shared" / "data"
    return beside

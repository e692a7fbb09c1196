"""File modes for what the kit writes: temporary files and folders (mkstemp, mkdtemp) are
private (0600 / 0700); once renamed into place they get the modes any file the user writes
gets, 0666 / 0777 less the umask."""
from __future__ import annotations

import os
from pathlib import Path


def umask() -> int:
    """The process umask (reading it means setting it; it is put back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def honour_umask(path) -> None:
    """Give one file the mode the umask asks for."""
    os.chmod(path, 0o666 & ~umask())


def honour_umask_tree(root: Path) -> None:
    """The same for a folder and everything under it."""
    mask = umask()
    os.chmod(root, 0o777 & ~mask)
    for base, dirs, files in os.walk(root):
        for d in dirs:
            os.chmod(os.path.join(base, d), 0o777 & ~mask)
        for f in files:
            os.chmod(os.path.join(base, f), 0o666 & ~mask)

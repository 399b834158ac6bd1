"""A spool file: text a reporter renders per target but can only place after a header known at the end.

JUnit's root element carries totals and the HTML page opens with the verdict
banner; both are known only when the last target is judged.  Their per-target
parts go to a temporary file (not memory) and are copied out after the header.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import TextIO


class Spool:
    def __init__(self) -> None:
        self._file: TextIO = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115  (closed in copy_to)

    def write(self, text: str) -> None:
        self._file.write(text)

    def copy_to(self, out: TextIO) -> None:
        """Write everything spooled to `out`, then drop the spool."""
        self._file.seek(0)
        shutil.copyfileobj(self._file, out)
        self._file.close()

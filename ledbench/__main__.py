"""``python -m ledbench``: the ``ledbench`` command line, also under launchers that take a module
(``torchrun --nproc-per-node 2 -m ledbench run ...``)."""

from __future__ import annotations

import sys

from ledbench.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())

"""Entry point of the frozen application: the same command line as `reelsmith`.

`freeze_support()` must run first: the render engine and the local service render in `spawn`
worker processes, and in a frozen build those workers start this same executable.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from app.cli import main

    sys.exit(main())

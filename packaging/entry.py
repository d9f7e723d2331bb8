"""PyInstaller entry point: the executable is the CLI."""

import multiprocessing
import sys

from appliance.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())

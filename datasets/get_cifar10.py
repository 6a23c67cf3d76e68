"""Download CIFAR-10 into this folder (or $CS231KIT_DATA_DIR): verified, retried, atomic.

    python datasets/get_cifar10.py [--data-dir DIR] [--url MIRROR] [--no-progress]

The same as the command ``cs231kit-download-cifar10``; see datasets/README.md.
"""

import sys
from pathlib import Path

try:
    from cs231kit.data.download import main
except ImportError:  # run from a checkout where cs231kit is not installed: use the checkout's
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from cs231kit.data.download import main

if __name__ == "__main__":
    sys.exit(main())

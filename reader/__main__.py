"""`python -m reader` is `digit-reader`."""

import sys

from reader.cli import main

sys.exit(main())

"""`python -m viewer.cli`: the same as the `evidence-viewer` console script."""

import sys

from viewer.cli.main import main

sys.exit(main())

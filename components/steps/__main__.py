"""``python -m components.steps STEP ...``: run one step as a process (see :mod:`components.steps.entry`)."""

import sys

from components.steps import entry

sys.exit(entry.main())

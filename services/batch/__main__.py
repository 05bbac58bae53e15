"""Entry point: ``python -m services.batch api|worker|submit|status|results|demo``."""

import sys

from services.batch.cli import main

sys.exit(main())

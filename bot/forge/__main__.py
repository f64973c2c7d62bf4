"""`python -m bot.forge`: run the local forge in the foreground."""

import sys

from bot.forge.server import main

sys.exit(main())

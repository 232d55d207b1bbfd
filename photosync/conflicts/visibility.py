"""The privacy arithmetic lives in photosync/privacy.py (the library uses it too, and the
library imports nothing from conflicts/); this name stays for the modules and tests that
import it from here."""

from ..privacy import *  # noqa: F401,F403

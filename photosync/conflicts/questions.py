"""The definition of a question lives in photosync/questions.py (the index counts them too,
and the library imports nothing from conflicts/); this name stays for the modules that
import it from here."""

from ..questions import *  # noqa: F401,F403

"""`python -m gpt2explore` = the `gpt2explore` command."""
import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while Python is still importing: exit 130, no traceback
    sys.exit(130)

sys.exit(main())

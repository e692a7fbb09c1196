"""`python -m gpt2explore` = the `gpt2explore` command."""
import sys

from .cli import main

sys.exit(main())

"""python -m gpt2explore.training: train the bundled model (see gpt2explore.training.train)."""
import sys

from .train import main

sys.exit(main())

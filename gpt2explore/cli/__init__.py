"""The command line: `gpt2explore sample | interact | compare | score`, after OpenAI's GPT-2 scripts."""
from .main import main  # noqa: F401

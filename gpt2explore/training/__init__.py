"""How the bundled model in data/models/tiny is built: the corpus (`corpus`), the tokenizer
files (`tokenizer_files`) and the training run (`train`). People exploring GPT-2 never import
this; `python -m gpt2explore.training` retrains the model."""

"""A name study's speed: 8 names x 200 samples x 30 tokens on the bundled model, gumbel coupling.

    python -m bench.study            # the full size (a few minutes on two CPU cores)
    python -m bench.study --smoke    # 2 names x 4 samples x 5 tokens
"""
from __future__ import annotations

import argparse
import json
import time

from .common import REPO, machine


def study_speed(smoke: bool = False) -> dict:
    import pandas as pd

    import gpt2explore as gx

    lm = gx.load()
    names = pd.read_csv(REPO / "data" / "names.csv")["name"].tolist()
    names, nsamples, length = (names[:2], 4, 5) if smoke else (names[:8], 200, 30)
    start = time.perf_counter()
    study = gx.study(lm, "Hi! My name is {name}.", names, nsamples=nsamples, length=length, seed=0,
                     progress=False)
    generate_s = time.perf_counter() - start
    start = time.perf_counter()
    agreement = study.agreement()
    words = study.words()
    tables_s = time.perf_counter() - start
    tokens = len(names) * nsamples * length
    return {"names": len(names), "nsamples": nsamples, "length": length, "tokens": tokens,
            "generate_s": round(generate_s, 1), "tables_s": round(tables_s, 2),
            "tokens_per_s": round(tokens / generate_s, 1), "machine": machine(),
            "first_token_agreement_mean": round(float(agreement[agreement.step == 0].same.mean()), 3),
            "words_rows": len(words)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    print(json.dumps(study_speed(parser.parse_args().smoke), indent=1))

"""Model names, aliases, device and dtype choice: `load(name) -> LM`, with clear errors.

Any causal LM that transformers' AutoModelForCausalLM loads is loaded, with its own tokenizer;
GPT-2, Llama (and SmolLM), Qwen2 and GPT-NeoX (Pythia) are the families the kit also reads
inside (gpt2explore.model.family). A model that is not a causal LM is a one-line error."""
from __future__ import annotations

import os
from pathlib import Path

import torch

# OpenAI's script names -> hub ids
ALIASES = {
    "117M": "gpt2", "124M": "gpt2",
    "345M": "gpt2-medium", "355M": "gpt2-medium",
    "774M": "gpt2-large",
    "1558M": "gpt2-xl", "1.5B": "gpt2-xl",
}
HUB_IDS = ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "distilgpt2")
TINY = "tiny"
DTYPES = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16,
          "fp16": torch.float16, "half": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
from .lm import LM


class ModelUnavailableError(ValueError):
    """A hub model that cannot be had here (no network and no cached copy)."""


def data_dir() -> Path:
    """Where the bundled model and data live: GPT2EXPLORE_DATA if set; else the repository's
    data/ beside the package (a checkout or an editable install); else the copy a wheel installs
    as gpt2explore/data."""
    env = os.environ.get("GPT2EXPLORE_DATA")
    if env:
        return Path(env)
    package = Path(__file__).resolve().parents[1]  # gpt2explore/
    for candidate in (package.parent / "data", package / "data"):
        if (candidate / "models").is_dir() or (candidate / "names.csv").exists():
            return candidate
    return package / "data"


def data_path(*parts: str) -> Path:
    """A file in the project's data/ folder, e.g. data_path("names.csv")."""
    for part in parts:
        if not isinstance(part, str):
            raise TypeError(f"parts must be strings (file names in data/), got {type(part).__name__}: {part!r}")
    return data_dir().joinpath(*parts)


def tiny_dir() -> Path:
    return data_dir() / "models" / "tiny"


def valid_names() -> str:
    aliases = ", ".join(f"{a} (= {b})" for a, b in ALIASES.items())
    return f"{TINY}, {', '.join(HUB_IDS)}, {aliases}, any 'owner/name' hub id, or a local model folder"


def resolve(name: str | os.PathLike) -> tuple[str, str]:
    """Name -> (kind, where): kind is 'dir' (a local folder) or 'hub' (a hub id)."""
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"model must be a non-empty string; valid names: {valid_names()}; got {name!r}")
    if name == TINY:
        return "dir", str(tiny_dir())
    if name in ALIASES:
        return "hub", ALIASES[name]
    if name in HUB_IDS:
        return "hub", name
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ValueError(f"model folder {name!r} has no config.json; save one with "
                             f"model.save_pretrained(folder) and tokenizer.save_pretrained(folder)")
        return "dir", str(path)
    if "/" in name and not name.startswith((".", "/", "~")) and name.count("/") == 1:
        return "hub", name
    raise ValueError(f"unknown model {name!r}; valid names: {valid_names()}")


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' -> cuda, then mps, then cpu; anything else must be available."""
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda' or 'mps'") from None
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {device!r} cannot run the model; use 'auto', 'cpu', 'cuda' or 'mps'")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for but CUDA is not available; use device='auto' or 'cpu'")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {device!r} asked for but MPS is not available; use device='auto' or 'cpu'")
    return dev


def pick_dtype(dtype, device: torch.device) -> torch.dtype:
    """None -> float32; float16/bfloat16 only on CUDA (or MPS for float16)."""
    if dtype is None:
        return torch.float32
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")
        dtype = DTYPES[dtype]
    if dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise ValueError(f"dtype must be float32, float16 or bfloat16, got {dtype!r}")
    if dtype != torch.float32 and device.type == "cpu":
        raise ValueError(f"dtype {dtype} is for GPUs; on the CPU use dtype=None (float32)")
    return dtype


def _unavailable(hub_id: str, err: Exception) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"model {hub_id!r} is not available here: no network and no cached copy ({type(err).__name__}: "
        f"{_first_line(err)[:160]}). "
        f"Remedies: download it once with network access (it is then cached), point HF_HOME at a "
        f"cache that has it, or use the bundled offline model with load('tiny')")


HUB_PROBE_TIMEOUT_S = 3.0  # how long to wait for the hub's address before saying it cannot be reached


def _from_hub(hub_id: str, dtype):
    """(tokenizer, model, load info) for a hub id: from the local cache when it is there, with no
    network call; otherwise from the hub, once a quick look shows it can be reached, so that an
    offline machine fails in seconds with one line instead of a minute of retries."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    def get(local: bool):
        check_causal(AutoConfig.from_pretrained(hub_id, local_files_only=local), hub_id)
        tok = AutoTokenizer.from_pretrained(hub_id, local_files_only=local)
        net, info = AutoModelForCausalLM.from_pretrained(hub_id, dtype=dtype, output_loading_info=True,
                                                         local_files_only=local)
        return tok, net, info

    try:
        return get(local=True)
    except OSError as cached_err:
        if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
            raise cached_err
        reachable, why = hub_reachable()
        if not reachable:
            raise OSError(f"the hub cannot be reached ({why}) and no cached copy exists") from None
        return get(local=False)


def hub_reachable(timeout: float = HUB_PROBE_TIMEOUT_S) -> tuple[bool, str]:
    """(whether the hub's host answers a TCP connection within `timeout` seconds, why not)."""
    import socket
    from urllib.parse import urlparse

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, ""
    except OSError as err:
        return False, f"{host}:{port}: {err.strerror or type(err).__name__}"


def load(model: str | os.PathLike = TINY, device: str | torch.device = "auto", dtype=None):
    """Load a causal LM and its tokenizer -> LM (model in eval mode on `device`).

    model: "tiny" (bundled, offline), a hub id (gpt2, gpt2-medium, gpt2-large, gpt2-xl,
    distilgpt2, or any owner/name such as HuggingFaceTB/SmolLM2-135M, Qwen/Qwen2.5-0.5B,
    EleutherAI/pythia-70m), OpenAI's names (117M/124M, 345M/355M, 774M, 1558M/1.5B), or a
    local folder in transformers format. dtype: None (float32), "float16" or "bfloat16" (GPU).
    A model that is not a causal LM (an encoder such as BERT, a sequence-to-sequence model such
    as T5) is a ValueError naming it.
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    kind, where = resolve(model)
    dev = pick_device(device)
    dt = pick_dtype(dtype, dev)
    if kind == "dir" and model == TINY and not Path(where, "config.json").exists():
        raise ModelUnavailableError(
            f"the bundled model is missing at {where}; restore data/models/tiny from the repository "
            f"or train it with python -m gpt2explore.training")
    hf_logging.disable_progress_bar()  # no "Loading weights" bar in notebooks and the CLI
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # no load report: a bad folder is our one-line error below
    try:
        if kind == "hub":
            tokenizer, net, info = _from_hub(where, dt)
        else:
            check_causal(AutoConfig.from_pretrained(where), where)
            tokenizer = AutoTokenizer.from_pretrained(where)
            net, info = AutoModelForCausalLM.from_pretrained(where, dtype=dt, output_loading_info=True)
    except NotCausalError:
        raise
    except OSError as err:
        if kind == "hub":
            raise _unavailable(where, err) from None
        raise ValueError(f"could not load the model folder {where!r}: {_first_line(err)}") from None
    except (RuntimeError, ValueError) as err:  # e.g. weights whose shapes do not match config.json
        raise ValueError(f"could not load the model folder {where!r}: its weights do not match its "
                         f"config.json ({_first_line(err)})") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    check_weights(info, where)
    check_tokenizer(tokenizer, where)
    net.to(dev).eval()
    name = model if isinstance(model, str) and kind == "hub" else (TINY if model == TINY else str(model))
    return LM(net, tokenizer, name=name, source=where)


class NotCausalError(ValueError):
    """A model that is not a causal LM (an encoder, a sequence-to-sequence model)."""


def check_causal(config, where) -> None:
    """A config whose model is not a causal (next-token) LM is a one-line NotCausalError naming it."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES as causal

    kind = getattr(config, "model_type", "?")
    archs = list(getattr(config, "architectures", None) or [])
    what = f"{archs[0]} (model_type {kind!r})" if archs else f"model_type {kind!r}"
    if getattr(config, "is_encoder_decoder", False):
        why = "a sequence-to-sequence (encoder-decoder) model"
    elif kind not in causal:
        why = "not a causal LM"
    elif archs and not any(a in causal.values() or a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
        why = "not a causal LM (an encoder or another head)"
    else:
        return
    raise NotCausalError(f"{str(where)!r} is {what}: {why}; gpt2explore needs a model that predicts the next "
                         f"token (GPT-2, Llama, SmolLM, Qwen2, GPT-NeoX/Pythia, ...)")


TOKENIZER_FILES = ("vocab.json", "merges.txt", "tokenizer.json")
PROBE = "Hello, world! 123"  # a text every GPT-2 tokenizer encodes and decodes back unchanged


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def check_weights(info: dict, where) -> None:
    """Weights missing from the folder, or of another shape than config.json says, would run
    as random numbers: an error naming the folder instead."""
    missing = sorted(k for k in info.get("missing_keys", ()) if not k.endswith((".attn.bias", ".masked_bias")))
    mismatched = sorted(str(k[0] if isinstance(k, tuple) else k) for k in info.get("mismatched_keys", ()))
    if missing or mismatched:
        bad = missing or mismatched
        what = "lacks weights" if missing else "has weights of other shapes than its config.json says"
        raise ValueError(f"the model folder {str(where)!r} {what}: {', '.join(bad[:3])}"
                         f"{f' and {len(bad) - 3} more' if len(bad) > 3 else ''}; save it again with "
                         f"model.save_pretrained(folder)")


def check_tokenizer(tokenizer, where) -> None:
    """A tokenizer that cannot encode and decode a plain text back (e.g. a folder without
    vocab.json / merges.txt / tokenizer.json, which transformers loads as a one-entry
    tokenizer) is an error naming the folder and the files it lacks."""
    try:
        ids = tokenizer.encode(PROBE, add_special_tokens=False)
        back = tokenizer.decode(ids, clean_up_tokenization_spaces=False)
    except Exception:  # noqa: BLE001 - any failure is the same verdict
        ids, back = [], None
    if back == PROBE and ids and len(tokenizer) >= 256:
        return
    folder = Path(where)
    lacks = [f for f in TOKENIZER_FILES if not (folder / f).exists()]
    raise ValueError(f"the tokenizer in {str(where)!r} cannot encode and decode {PROBE!r} (it has "
                     f"{len(tokenizer)} tokens); the folder lacks {', '.join(lacks) or 'nothing by name'}: "
                     f"copy GPT-2's vocab.json and merges.txt (or tokenizer.json) into it, or save it with "
                     f"tokenizer.save_pretrained(folder)")



"""Where a model comes from and what it runs on: hub ids, folders and GGUF files; device and dtype. Shared by the
engines, so both load the same weights the same way."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from thrifty import runs


logger = logging.getLogger(__name__)


def resolve_model_path(model: str, gguf_file: str | None = None) -> tuple[str, str | None]:
    """Split ``path/to/model.gguf`` into ``("path/to", "model.gguf")``; other names pass through."""
    if model.endswith(".gguf"):
        if gguf_file is not None:
            raise ValueError(f"give either a .gguf path as the model ({model}) or --gguf_file, not both")
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"GGUF file not found: {model}")
        return str(path.parent), path.name
    return model, gguf_file


ORGANISM_BASE_DIR = "organism/base"
"""How the organism recipes name the base model's folder (``runs/organism/base``): a missing one is named with the
command that builds it."""

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".h5", ".msgpack")
"""Files that hold a model's weights (transformers' formats, sharded or not)."""


def _looks_local(model: str) -> bool:
    """Whether ``model`` names a local path rather than a hub id (``org/name``): it starts with ``.``, ``/`` or
    ``~``, has more than one ``/``, a backslash or a ``.gguf`` suffix, or its first part is a local folder
    (``runs/tiny-modle`` where ``runs/`` exists is a mistyped path, not a hub id)."""
    if model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model or model.endswith(".gguf"):
        return True
    head = model.split("/", 1)[0]
    return "/" in model and Path(head).is_dir() and not _in_hub_cache(model)


def _in_hub_cache(model: str) -> bool:
    """Whether the local Hugging Face cache holds a model of the hub id ``model`` (no network): then ``org/name``
    is that model even where a folder ``org/`` exists here."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(model, "config.json"), str)
    except Exception:  # not a valid repo id, or no hub library: not a cached hub model
        return False


def _missing(model: str, flag: str) -> str:
    """The message for a local model path that does not exist, with the next step."""
    if model.rstrip("/").endswith(ORGANISM_BASE_DIR):
        return (
            f"{flag} {model}: no such file or folder; build the base organism first: "
            f"thrifty organism --out {model.rstrip('/')}"
        )
    head = model.split("/", 1)[0]
    if model.count("/") == 1 and Path(head).is_dir():  # reads as a path because ./org exists; may be a hub id
        return (
            f"{flag} {model}: no such folder here ({head}/ exists, so this reads as a local path), and the Hugging "
            f"Face cache holds no model {model!r}; check the path, or to use the hub model, download it first: "
            f"huggingface-cli download {model}"
        )
    return f"{flag} {model}: no such file or folder (not a hub id 'org/name' either); check the path"


def _unfinished(path: Path, flag: str, model: str) -> str | None:
    """The message for a folder a thrifty run or build started and never finished (:data:`runs.RUN_STARTED`
    without :data:`runs.RUN_DONE`): its weights are missing or half-trained, never to be used. None otherwise."""
    if not (path / runs.RUN_STARTED).is_file() or (path / runs.RUN_DONE).is_file():
        return None
    started = runs.read_json_object(path / runs.RUN_STARTED) or {}
    if "organism_base" in started:
        again = f"build it again: thrifty organism --out {model}"
    else:
        again = "run the command that made it again (it resumes), or choose a finished model"
    return f"{flag} {model}: the folder holds an unfinished run (it was interrupted before it finished); {again}"


def check_model_source(model: str, flag: str = "--model", gguf_file: str | None = None) -> str:
    """``model`` with ``~`` expanded, after refusing before anything loads what cannot load, each with the next
    step: a local path that does not exist (rather than asking the Hub for it: a mistyped path is not reported as a
    failed download), a folder a thrifty run or build started and never finished, a folder with neither a
    ``config.json`` nor a PEFT adapter nor the ``gguf_file``, a ``config.json`` without weights, or a
    ``.safetensors`` file that is truncated or damaged (its header is read, not its weights). A name that is not a
    local path is left to the Hub."""
    path = Path(model).expanduser()
    if not path.exists():
        if _looks_local(model):
            raise FileNotFoundError(_missing(model, flag))
        return model  # a hub id (``org/name``): a missing one is the Hub's error to report
    if path.is_file():
        return str(path)  # a .gguf file: resolve_model_path checks it
    if (message := _unfinished(path, flag, model)) is not None:
        raise FileNotFoundError(message)
    if gguf_file is not None:
        if not (path / gguf_file).is_file():
            raise FileNotFoundError(f"--gguf_file {gguf_file}: no such file in {model}")
        return str(path)
    if not any((path / name).is_file() for name in ("config.json", "adapter_config.json")):
        raise FileNotFoundError(f"{flag} {model}: the folder holds no model (no config.json)")
    if not (path / "adapter_config.json").is_file() and not any(
        f.suffix in WEIGHT_SUFFIXES for f in path.iterdir() if f.is_file()
    ):
        raise FileNotFoundError(
            f"{flag} {model}: the folder has a config.json but no weights (*.safetensors or *.bin): an "
            "interrupted save or copy; save, copy or build the model again"
        )
    from safetensors import SafetensorError, safe_open

    for weights in sorted(path.glob("*.safetensors")):
        try:
            with safe_open(str(weights), "pt"):
                pass
        except (SafetensorError, OSError) as error:
            raise ValueError(
                f"{flag} {model}: {weights.name} cannot be read ({error}); the file is truncated or damaged: "
                "download, copy or build the model again"
            ) from None
    return str(path)


def dequantized_gguf(folder: str, gguf_file: str, cache_dir: str | None = None) -> str:
    """A folder holding the GGUF model ``folder/gguf_file`` dequantised (as transformers loads it), tokenizer
    included, for engines that take a model folder. Written once under ``cache_dir`` (default
    ``$THRIFTY_CACHE`` or ``~/.cache/thrifty``) and reused while the file is unchanged."""
    import shutil

    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = Path(folder) / gguf_file
    stat = source.stat()
    key = runs.fingerprint({"gguf": str(source.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})
    out = runs.cache_root(cache_dir) / "gguf" / f"{source.stem}-{key}"
    if (out / "config.json").is_file():
        return str(out)
    logger.info("dequantising %s to %s", source, out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file).save_pretrained(tmp)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=torch.float32)
    # transformers dequantises GGUF weights on load but keeps a GGUF "quantizer" that refuses to save: the
    # weights are plain fp32 tensors by now, so drop it and save an ordinary model
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return str(out)


def pick_device(device: str) -> torch.device:
    """``"auto"``: CUDA if there is a GPU, else the CPU; anything else as torch names it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``"auto"``: bf16 on a CUDA GPU that supports it, else fp32; or ``float32`` / ``bfloat16`` / ``float16``."""
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype not in dtypes:
        raise ValueError(f"unknown dtype {dtype!r}; choose auto, {', '.join(dtypes)}")
    return dtypes[dtype]

"""Typed configs: dataclasses in Hydra's ConfigStore, and the one check every entry point runs before any work.

Hydra and OmegaConf check the keys and types of a structured config while composing (an unknown key, or
`quality=abc` for an int, stops composition). What they cannot check, `check_config` does: values that must be
one of a few names (`choice` fields), and mandatory values left `???`. Either way the command stops before a
model is loaded, with one line naming the key and what it accepts (exit code 2).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from manga_cyclegan.config.errors import RunError
from manga_cyclegan.io.archives import DEFAULT_ARCHIVE_LIMITS, ArchiveLimits
from manga_cyclegan.io.decode import DEFAULT_MAX_PIXELS
from manga_cyclegan.nets.generator import GeneratorSpec


def choice(default: Any, choices: tuple, otherwise: str | None = None, help: str = "") -> Any:
    """A field whose value must be one of `choices`; `otherwise` names what else is accepted (e.g. "a number of
    pixels" for a field typed `int | str`, where only the strings are choices); `help` as in `option`."""
    return field(default=default, metadata={"choices": tuple(choices), "otherwise": otherwise, "help": help})


def option(default: Any, help: str) -> Any:
    """A field with one line saying what it does: the command's --help shows it (manga_cyclegan.config.help)."""
    return field(default=default, metadata={"help": help})


@dataclass
class PageGuards:
    """Decompression-bomb and zip-bomb guards, checked before a page or a chapter member is decompressed: pages
    above `max_pixels`, archives with more members, members declaring more bytes, or members above 1 MiB compressed
    more than `max_compression_ratio` times over are refused. Shared by train, predict and evaluate."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_archive_members: int = DEFAULT_ARCHIVE_LIMITS.max_archive_members
    max_member_bytes: int = DEFAULT_ARCHIVE_LIMITS.max_member_bytes
    max_compression_ratio: float = DEFAULT_ARCHIVE_LIMITS.max_compression_ratio

    @staticmethod
    def archive_limits(guards: Any) -> ArchiveLimits:
        """The archive half of the guards of a config that has them (predict's, data's)."""
        return ArchiveLimits(guards.max_archive_members, guards.max_member_bytes, guards.max_compression_ratio)


def spec_schema(name: str, spec: type, doc: str, overrides: bool = False, leave_out: tuple = ()) -> type:
    """A schema with the fields of the dataclass `spec` (types, defaults, choices), so the spec stays their one
    home; `overrides=True` makes each field optional with default None ("keep what the file says")."""
    types = typing.get_type_hints(spec)
    fields = [
        (f.name, Optional[types[f.name]] if overrides else types[f.name],
         field(default=None if overrides else f.default, metadata=f.metadata))
        for f in dataclasses.fields(spec) if f.name not in leave_out
    ]
    schema = dataclasses.make_dataclass(name, fields)
    schema.__doc__, schema.__module__ = doc, __name__
    return schema


GeneratorArch = spec_schema(
    "GeneratorArch", GeneratorSpec, overrides=True,
    doc="""Architecture overrides (`arch.*`) for weights that do not state theirs (the reference CycleGAN's
    *_net_G_A.pth): null takes what the file states or its tensors imply. Shared by predict, evaluate and export.""",
)


def arch_overrides(arch: Any) -> dict:
    """The overrides that are set, as a plain dict."""
    return {k: v for k, v in OmegaConf.to_container(arch).items() if v is not None} if arch else {}


def register(name: str, node: type, group: str | None = None) -> None:
    """Put a schema into Hydra's ConfigStore; a YAML file names it first in its defaults list to be checked by it."""
    ConfigStore.instance().store(name=name, node=node, group=group)


def check_config(cfg: DictConfig, schema: type, prefix: str = "", hint: str = "") -> None:
    """Raise RunError for the first mandatory value left unset or value outside its choices, naming the key."""
    missing = sorted(OmegaConf.missing_keys(cfg)) if not prefix else []
    if missing:
        raise RunError(f"{missing[0]} is required: give it on the command line ({missing[0]}=...).{hint}")
    for f in dataclasses.fields(schema):
        key = f"{prefix}{f.name}"
        nested = _dataclass_of(f)
        if nested is not None:
            if _has_choices(nested) and isinstance(cfg.get(f.name), DictConfig):
                check_config(cfg[f.name], nested, f"{key}.", hint)
            continue
        choices = f.metadata.get("choices")
        value = cfg.get(f.name) if choices else None  # read (and resolved) only where there is something to check
        if value is None or not isinstance(value, str) or value in choices:
            continue
        allowed = ", ".join(str(c) for c in choices if c is not None)
        otherwise = f" or {f.metadata['otherwise']}" if f.metadata.get("otherwise") else ""
        raise RunError(f"{key}={value!r} is not allowed: use one of {allowed}{otherwise}.{hint}")


def _has_choices(schema: type) -> bool:
    return any(f.metadata.get("choices") or (_dataclass_of(f) and _has_choices(_dataclass_of(f)))
               for f in dataclasses.fields(schema))


def _dataclass_of(f: dataclasses.Field) -> type | None:
    """The dataclass a nested field holds (fields are annotated as strings under `from __future__ import annotations`)."""
    factory = f.default_factory if f.default_factory is not dataclasses.MISSING else None
    return factory if isinstance(factory, type) and dataclasses.is_dataclass(factory) else None


@dataclass
class PathsConfig:
    """conf/paths/default.yaml: where data is cached and runs write."""

    root_dir: str = "."
    data_dir: str = "data"
    log_dir: str = "outputs"
    output_dir: str = "outputs"

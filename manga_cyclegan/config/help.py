"""Each command's --help, written from its schema: the command's own keys, each with its value as composed and its
one line (the `help` of `option`/`choice` fields), then the config groups it composes with their options, and
nothing else (Hydra's default help lists every group on the search path and the whole config).

Hydra prints `hydra.help.template`; conf/hydra/help/command.yaml sets it to `${command_help:<config name>}`, the
resolver registered in manga_cyclegan.config, so the text is written when --help asks for it.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Mapping

from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from manga_cyclegan.config.commands import COMMANDS
from manga_cyclegan.config.schema import _dataclass_of

KEY_WIDTH = 26  # the key=value column; longer ones push their line's text right


def command_help(name: str, cfg: DictConfig, group_options: Mapping[str, list[str]]) -> str:
    """The --help of the command whose config is conf/`name`.yaml. `cfg`: its composed config with the hydra node
    (whose runtime.choices name the groups composed); `group_options`: the options of each of those groups."""
    command = COMMANDS[name]
    # Hydra records the choices last first: reversed, they follow the defaults list.
    choices = {group: choice for group, choice in reversed(cfg.hydra.runtime.choices.items())
               if not group.startswith("hydra")}
    lines = [
        f"{command.console}: {summary(command.schema, paragraph=True)}",
        f"(from a checkout: python {command.script})",
        "",
        f"Usage: {command.console} [KEY=VALUE ...]" + (" [GROUP=OPTION ...] [GROUP.KEY=VALUE ...]" if choices else ""),
        "",
        "Options (key=value as composed now):",
        *option_lines(command.schema, cfg, skip=set(choices)),
    ]
    if choices:
        lines += ["", "Config groups (group=option as composed now; the options there are):"]
        for group, choice in choices.items():
            options = ", ".join(group_options.get(group, ())) or "(none found: an optional group)"
            lines.append(column(f"{group}={show(choice)}", options))
    lines += ["", "--cfg job [--resolve] prints the whole composed config (every key of the groups too) and exits;",
              "--hydra-help lists Hydra's own flags."]
    return "\n".join(lines)


def option_lines(schema: type, cfg: DictConfig, skip: set[str]) -> list[str]:
    """One line per key of `schema`, except those in `skip` (the groups); a nested schema (arch.*) in one line, and
    the keys a base schema brings (PageGuards) in one entry described by that schema's docstring."""
    lines, bases = [], {}
    inherited = {f.name: base for base in reversed(schema.__mro__[1:]) if dataclasses.is_dataclass(base)
                 for f in dataclasses.fields(base)}
    for f in dataclasses.fields(schema):
        if f.name in skip:
            continue
        if f.name in inherited:
            bases.setdefault(inherited[f.name], []).append(f.name)
            continue
        nested = _dataclass_of(f)
        if nested is not None:
            keys = ", ".join(g.name for g in dataclasses.fields(nested))
            lines.append(column(f"{f.name}.*", f"{f.metadata.get('help') or summary(nested)}: {keys}"))
            continue
        lines.append(column(f"{f.name}={value_of(cfg, f.name)}", describe(f)))
    for base, keys in bases.items():
        values = ", ".join(f"{key}={value_of(cfg, key)}" for key in keys)
        lines += [f"  {values}", column("", summary(base))]
    return lines


def describe(f: dataclasses.Field) -> str:
    """A field's one line, with its allowed values where it has choices."""
    text = f.metadata.get("help", "")
    choices = f.metadata.get("choices")
    if choices:
        allowed = "|".join(str(c) for c in choices if c is not None)
        otherwise = f", or {f.metadata['otherwise']}" if f.metadata.get("otherwise") else ""
        text = f"{text} [{allowed}{otherwise}]".strip()
    return text


def summary(schema: type, paragraph: bool = False) -> str:
    """A schema's docstring, first paragraph (`paragraph`), or first clause (up to the first colon or full stop)
    as one option's line."""
    doc = (schema.__doc__ or "").strip().split("\n\n")[0]
    text = " ".join(doc.split())
    if paragraph:
        return text
    clause = re.split(r"[.:](?:\s|$)", text)[0]
    return clause[:1].lower() + clause[1:]


def value_of(cfg: DictConfig, key: str) -> str:
    if OmegaConf.is_missing(cfg, key):
        return "???"
    return show(cfg[key])


def show(value: Any) -> str:
    """A value as it is written on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def column(left: str, right: str) -> str:
    left = f"  {left}"
    return f"{left.ljust(KEY_WIDTH)}  {right}".rstrip() if right else left


def command_help_resolver(name: str, _root_: DictConfig) -> str:
    """`${command_help:NAME}`: command_help for the config being composed, the group options read from the config
    loader Hydra set up for this run; `$` doubled, as Hydra fills the template with string.Template."""
    store = ConfigStore.instance()

    def options(group: str) -> list[str]:
        """The group's YAML options; the schemas registered in it (data_schema) are not options."""
        if not GlobalHydra.instance().is_initialized():  # resolved outside a Hydra run: no loader to ask
            return []
        try:
            schemas = set(store.list(group))
        except OSError:  # nothing registered in this group
            schemas = set()
        loader = GlobalHydra.instance().config_loader()
        return [o for o in loader.get_group_options(group, config_name=name) if f"{o}.yaml" not in schemas]

    groups = [g for g in _root_.hydra.runtime.choices if not g.startswith("hydra")]
    return command_help(name, _root_, {g: options(g) for g in groups}).replace("$", "$$")

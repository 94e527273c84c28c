"""Config foundations: the OmegaConf resolvers conf/ uses and the typed schemas conf/ is checked by, both registered
once, on import; the precision resolver; each command's --help; how commands report errors."""

from omegaconf import OmegaConf

from manga_cyclegan.config import commands, groups  # noqa: F401  (register the schemas in Hydra's ConfigStore)
from manga_cyclegan.config.help import command_help_resolver
from manga_cyclegan.config.precision import fast_precision


def register_resolvers() -> None:
    resolvers = {"add": lambda *xs: sum(xs), "fast_precision": fast_precision, "command_help": command_help_resolver}
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


register_resolvers()

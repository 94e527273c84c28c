"""Config foundations: the OmegaConf resolvers conf/ uses (registered once, on import) and the precision resolver."""

from omegaconf import OmegaConf

from manga_cyclegan.config.precision import fast_precision


def register_resolvers() -> None:
    resolvers = {"add": lambda *xs: sum(xs), "fast_precision": fast_precision}
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


register_resolvers()

"""The colorizing flow: the Colorizer and its loading, working size, strips/tiles with whole-page norm statistics,
the chapter palette, flat output and export. Imports nothing from training or evaluation."""

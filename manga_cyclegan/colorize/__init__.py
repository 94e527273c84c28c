"""The colorizing flow: the Colorizer and its loading, working size, strips/tiles with whole-page norm statistics,
the chapter palette, the color-page detector (predict skips pages already in color; the data flow's mixed-folder
split uses it too), flat output and export. Imports nothing from training or evaluation."""

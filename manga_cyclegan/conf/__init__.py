"""The Hydra configs of the four commands (train.yaml, predict.yaml, evaluate.yaml, export.yaml) and their groups.

They ship inside the package, so an installed `manga-train` finds them as `pkg://manga_cyclegan.conf` (Hydra looks
for this file to accept the folder as a config package). Your machine's own settings stay outside it, in
`conf/local/default.yaml` of the folder you start training in (conf/train.yaml puts that folder on Hydra's search
path).
"""

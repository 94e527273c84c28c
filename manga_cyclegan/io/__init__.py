"""Page files on disk: listing, archives and their guards, decoding, label maps, atomic files, outputs. Knows nothing of models."""

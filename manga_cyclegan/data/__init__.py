"""Data code: page files and archives, the unpaired DataModule, the synthetic set. Knows nothing of models."""

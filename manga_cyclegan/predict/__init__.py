"""The predict flow: sources (files, globs, chapters), sinks (pages, .cbz), the run and its summary."""

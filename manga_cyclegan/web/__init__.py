"""The local web page: colorize, compare and correct pages in the browser (python app.py)."""

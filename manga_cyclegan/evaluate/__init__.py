"""The evaluation flow: metrics, baselines, scoring, the table and the contact sheet, the command."""

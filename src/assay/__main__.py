"""``python -m assay`` runs the CLI."""

from assay.cli.main import entry

if __name__ == "__main__":
    entry()

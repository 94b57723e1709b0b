"""``python -m segmentation`` — the command line (see cli.py)."""

from segmentation.cli.main import main

if __name__ == "__main__":
    main()

"""``python -m handgrad`` runs the command-line tool."""

from handgrad.cli import main

if __name__ == "__main__":
    main()

"""The `elt` command (`python -m elt`): its modules are imported as long-lived objects
(`core.longlived`), then the command line (`elt.cli`) runs."""

from __future__ import annotations

from core.longlived import long_lived


def main() -> None:
    with long_lived():
        from elt.cli import app
    app()


if __name__ == "__main__":
    main()

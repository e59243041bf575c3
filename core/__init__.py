"""The leaf package: settings, identifier validation and the ClickHouse client factory.

Every other package of the project imports it; it imports none of them (see the import-linter
contracts in pyproject.toml)."""

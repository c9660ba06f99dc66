"""The `cartridge` command: one subcommand per module in this package."""

"""Environments: env files, building them (era-authentic resolution, start-up hooks), locks, the package indexes."""

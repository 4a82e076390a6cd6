"""Scoring the registered models: the Azure ML entry script, a local HTTP endpoint, a client."""

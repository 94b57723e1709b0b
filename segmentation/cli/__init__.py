"""Typer commands: parse the options, call a workflow or a read, print JSON or text. May import everything below."""

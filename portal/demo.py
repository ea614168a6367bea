"""The demo data `make run` loads into an empty database, so a first look at Portico shows something real.

Each app that has demo data adds it here; the catalog loads its demo organisation through the normal ingestion path.
"""


def load_if_empty() -> str:
    return "No demo data to load."

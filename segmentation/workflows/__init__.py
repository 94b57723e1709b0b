"""What a command does end to end: snapshot, timeline, assign (local, Dask), first run, segment actions. May import ingest, audiences, demo and every layer below."""

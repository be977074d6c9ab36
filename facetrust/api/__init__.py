"""The FastAPI app: mounts each domain's routes, auth dependencies, error mapping."""

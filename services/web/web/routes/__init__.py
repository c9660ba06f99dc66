"""The API's routes, one module per resource; each is thin and gets what it needs from
web.deps."""

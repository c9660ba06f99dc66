"""The web service (`python -m web`): a page to play the model, and its JSON API.

    cli.py          flags -> settings -> resources -> app -> uvicorn
    resources.py    what routes share: the settings, the model catalog, the search pool,
                    the metrics (built once from validated settings, handed out by deps.py)
    models.py       ModelCatalog: each game's model store, "latest"/"best"/N -> a version,
                    a small LRU cache of loaded ONNX Runtime evaluators
    search_pool.py  SearchPool: a bounded thread pool; a full one refuses at once (503)
    positions.py    a game and its moves -> what the page draws (board rows, legal moves,
                    the result); every bad input is a ValueError naming what is wrong
    app.py          create_app(resources): routes, static files, errors, metrics
    routes/         health (/healthz, /metrics), games (/api/games, /api/position),
                    models (/api/models/{game}), play (/api/move)
    static/         the play page (HTML, CSS, JS), served by the app itself

The server keeps no game: the client sends the moves so far with every request, so any
replica answers any request and no two players share a game. Never imports torch: it
plays on ONNX Runtime, like the actors.
"""

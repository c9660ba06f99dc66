"""The arena service (`python -m arena`): rates every model version, gates `best`.

cli (flags -> settings) -> wiring (settings -> ArenaInputs: game, model store,
journal) -> loop (`Arena`: one unit of work at a time: a gate match, a rating
match, or a benchmark, newest version first). Pure decisions live in
`schedule` and in the library (`cartridge.arena`); everything recorded goes to
the journal (`cartridge.journal`); `metrics` exposes it to Prometheus.
"""

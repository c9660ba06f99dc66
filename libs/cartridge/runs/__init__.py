"""Run directories: what a local training run leaves behind, so people can find, inspect
and stop runs (`cartridge run --run-dir DIR`, `cartridge runs list | stop`).

A run directory is the run's [common] data_dir (replay.db, models/, logs/, stats.json)
plus the run's own record:

    config.toml   the settings the run used, fully resolved, secrets left out
    meta.json     {"starts": [facts, ...]}: one entry per start (commit, command line,
                  seed, game, network, device, versions, hostname, config path)
    status.json   running | completed | stopped | failed, progress, last heartbeat
    pid           the supervisor's and its children's pids while running
    stop          asks the supervisor to stop (for when a signal cannot be sent)
    .lock         held (flock) by the one live supervisor

Modules: `layout` (the names), `facts` (meta.json entries), `resolved` (config.toml),
`processes` (pid records), `record` (what the supervisor writes), `listing` (the
state of each run under a root), `stopping` (`cartridge runs stop`).
"""

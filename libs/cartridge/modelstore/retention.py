"""Bounded model storage: which versions to keep, and deleting the rest.

Kept: the newest `keep_last` versions, every `keep_every`-th version (a thinned
history for ratings and plots), the targets of `latest` and `best`, and any version
a caller declares protected (the trainer: every version the arena ever promoted).
Rated versions are not all kept: the arena rates every version, so keeping them would
bound nothing, and a rating lives on in the journal without its model. Everything else
is deleted. A delete unlists its version first (ModelStore.delete), so readers never
list a half-deleted version, and each pass first finishes the deletes an earlier one
left cut short (a trainer killed while pruning): a delete orphans no blob. (A publish
killed before its metadata still leaves an unlisted, unmarked version behind: it cannot
be told from a slow publisher's upload in progress, so nothing removes it.)

With the defaults ([storage] model_keep_last = 20, model_keep_every = 50) and
[training] steps = 100000 at checkpoint_interval = 100 (1,000 versions), a game keeps
at most 20 + 1000/50 + 2 = 42 versions. Connect Four's 5x64 network (the GPU switches';
resnet, 374,810 weights) measures 1.50 MB of ONNX and 4.57 MB of checkpoint (weights
plus AdamW's two moments) per version (scripts/model_size.py), so about 255 MB in all,
against 6.1 GB when every version is kept; config.toml's 3x48, 89 MB against 2.1 GB.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from cartridge.modelstore.base import ModelStore, ModelStoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionPolicy:
    keep_last: int  # newest versions kept; 0 = keep every version (no deletion at all)
    keep_every: int  # versions that are multiples of this are kept; 0 = none

    def keeps(self, versions: Iterable[int], pinned: set[int]) -> set[int]:
        """The versions to keep out of `versions`; `pinned` ones always stay."""
        ordered = sorted(versions)
        if self.keep_last == 0:
            return set(ordered)
        keep = set(ordered[-self.keep_last:]) | (pinned & set(ordered))
        if self.keep_every:
            keep |= {v for v in ordered if v % self.keep_every == 0}
        return keep


def apply_retention(
    store: ModelStore, policy: RetentionPolicy, protected: set[int] | frozenset[int] = frozenset()
) -> list[int]:
    """Delete the versions `policy` does not keep; returns them. `latest`, `best` and
    `protected` versions are never deleted (the store itself refuses a pointer's target)."""
    for version in store.unfinished_deletes():  # unlisted already: whatever the policy says
        try:
            store.delete(version)
        except ModelStoreError as err:  # a pointer names it (an S3 promote raced the delete)
            log.warning("retention: a delete cut short stays unfinished: %s", err)
            continue
        log.info("retention: finished the delete of v%d, cut short earlier, in %r",
                 version, store)
    if policy.keep_last == 0:
        return []
    versions = store.versions()
    pointers = {v for v in (store.pointer("latest"), store.pointer("best")) if v is not None}
    doomed = sorted(set(versions) - policy.keeps(versions, pointers | set(protected)))
    for version in doomed:
        store.delete(version)
    if doomed:
        log.info("retention: deleted %d model versions (v%d..v%d) from %r", len(doomed),
                 doomed[0], doomed[-1], store)
    return doomed

"""Bounded model storage: the retention policy, and deletion in both stores (filesystem
and S3; the S3 runs use moto's S3 server standing in for MinIO, see conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cartridge.config.settings import load_settings
from cartridge.journal import JournalError, open_journal
from cartridge.journal.records import PromotionRow
from cartridge.modelstore import ModelStore, ModelStoreError
from cartridge.modelstore.filesystem import FilesystemModelStore
from cartridge.modelstore.publisher import ModelPublisher
from cartridge.modelstore.retention import RetentionPolicy, apply_retention
from cartridge.modelstore.s3 import S3ModelStore
from tests.actor.helpers import REPO

NETWORK = {"kind": "mlp", "blocks": 1, "channels": 8}


def publish_many(store: ModelStore, count: int) -> None:
    for step in range(1, count + 1):
        store.publish(f"onnx-{step}".encode(), f"ckpt-{step}".encode(), step=step,
                      network=NETWORK)


def stored_names(store: ModelStore) -> set[str]:
    """Every file or object the store holds for its game, relative to the game's root."""
    if isinstance(store, FilesystemModelStore):
        return {str(p.relative_to(store.game_dir)) for p in store.game_dir.rglob("*")
                if p.is_file() and not p.name.startswith(".pointer")}
    assert isinstance(store, S3ModelStore)
    listing = store.client.list_objects(store.bucket, prefix=store.base + "/", recursive=True)
    return {item.object_name[len(store.base) + 1:] for item in listing}


def test_policy_keeps_newest_every_nth_and_pinned() -> None:
    policy = RetentionPolicy(keep_last=3, keep_every=5)
    assert policy.keeps(range(1, 13), pinned={2}) == {2, 5, 10, 11, 12}
    assert policy.keeps([], pinned={4}) == set()  # a pinned version that is not stored
    assert RetentionPolicy(keep_last=2, keep_every=0).keeps([7, 8, 9], set()) == {8, 9}
    assert RetentionPolicy(keep_last=0, keep_every=5).keeps([1, 2, 3], set()) == {1, 2, 3}


def test_retention_deletes_the_rest_blobs_and_all(store: ModelStore) -> None:
    publish_many(store, 12)
    store.promote(3)
    deleted = apply_retention(store, RetentionPolicy(keep_last=3, keep_every=5), protected={7})
    assert deleted == [1, 2, 4, 6, 8, 9]
    assert store.versions() == [3, 5, 7, 10, 11, 12]
    assert (store.pointer("latest"), store.pointer("best")) == (12, 3)
    names = stored_names(store)
    assert not any(name.startswith(("v000001/", "v000004/", "v000009/")) for name in names)
    for version in store.versions():  # what is kept is whole
        assert store.load_onnx(version) == f"onnx-{version}".encode()
        assert store.load_checkpoint(version) == f"ckpt-{version}".encode()
    assert store.publish(b"o", b"c", step=13, network=NETWORK).version == 13  # no reuse


def test_retention_never_deletes_what_a_pointer_names(store: ModelStore) -> None:
    publish_many(store, 4)
    store.promote(1)
    assert apply_retention(store, RetentionPolicy(keep_last=1, keep_every=0)) == [2, 3]
    assert store.versions() == [1, 4]
    for version, pointer in ((1, "best"), (4, "latest")):
        with pytest.raises(ModelStoreError, match=f"v00000{version}.*`{pointer}` points at it"):
            store.delete(version)
    assert store.versions() == [1, 4]


def test_keep_last_zero_keeps_every_version(store: ModelStore) -> None:
    publish_many(store, 5)
    assert apply_retention(store, RetentionPolicy(keep_last=0, keep_every=0)) == []
    assert store.versions() == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("cut_after", ["the marker", "the metadata and the model"])
def test_a_delete_cut_short_is_unlisted_and_finished_by_the_next_pass(
    store: ModelStore, cut_after: str,
) -> None:
    # The states a trainer killed mid-delete leaves behind, made by hand: the delete's
    # first step (the marker) unlists the version, so no reader lists a version whose
    # blobs are going, and the next retention pass finishes it (no orphaned blob).
    from tests.modelstore.test_contract import overwrite, remove

    publish_many(store, 3)
    overwrite(store, 1, ".deleting", b"")
    if cut_after != "the marker":
        remove(store, 1, "meta.json")
        remove(store, 1, "model.onnx")
    assert store.versions() == [2, 3]
    assert store.unfinished_deletes() == [1]
    assert apply_retention(store, RetentionPolicy(keep_last=2, keep_every=0)) == []
    assert store.unfinished_deletes() == []
    assert not any(name.startswith("v000001/") for name in stored_names(store))
    assert store.versions() == [2, 3]


# Removals in a delete: filesystem meta.json, model.onnx, checkpoint.pt, the marker; S3
# also the (absent) int8 model and the claim. Up to 7: one past the last.
@pytest.mark.parametrize("fails_at", range(7))
def test_a_delete_cut_short_at_any_removal_never_lists_a_broken_version(
    store: ModelStore, monkeypatch: pytest.MonkeyPatch, fails_at: int,
) -> None:
    # A trainer killed inside delete(), made by failing its n-th removal: every listed
    # version stays whole, what is left of the version is named by unfinished_deletes(),
    # and the next retention pass removes it all.
    publish_many(store, 3)
    removals = 0

    def failing(remove: Callable[..., None]) -> Callable[..., None]:
        def remove_or_fail(*args: object, **kwargs: object) -> None:
            nonlocal removals
            removals += 1
            if removals > fails_at:
                raise OSError("killed here")
            remove(*args, **kwargs)
        return remove_or_fail

    with monkeypatch.context() as patch:
        if isinstance(store, FilesystemModelStore):
            patch.setattr(Path, "unlink", failing(Path.unlink))
        else:
            assert isinstance(store, S3ModelStore)
            patch.setattr(store.client, "remove_object", failing(store.client.remove_object))
        try:
            store.delete(1)
        except OSError as err:
            assert "killed here" in str(err)
    for version in store.versions():
        assert store.load_onnx(version) == f"onnx-{version}".encode()
        assert store.load_checkpoint(version) == f"ckpt-{version}".encode()
    left = any(name.startswith("v000001/") for name in stored_names(store))
    assert store.unfinished_deletes() == ([1] if left else [])
    assert store.versions() == [2, 3]
    assert apply_retention(store, RetentionPolicy(keep_last=5, keep_every=0)) == []
    assert not any(name.startswith("v000001/") for name in stored_names(store))
    if isinstance(store, FilesystemModelStore):
        assert not (store.game_dir / "v000001").exists()
    assert store.unfinished_deletes() == []


def test_a_delete_cut_short_that_a_pointer_names_does_not_stop_retention(
    store: ModelStore, caplog: pytest.LogCaptureFixture,
) -> None:
    # `best` moved to a version while its delete was cut short (S3 has no lock to stop a
    # racing promote): the delete stays unfinished, logged, and pruning goes on.
    from tests.modelstore.test_contract import overwrite

    publish_many(store, 5)
    store.promote(1)
    overwrite(store, 1, ".deleting", b"")
    with caplog.at_level("WARNING", logger="cartridge.modelstore.retention"):
        assert apply_retention(store, RetentionPolicy(keep_last=2, keep_every=0)) == [2, 3]
    assert "v000001" in caplog.text and "`best` points at it" in caplog.text
    assert store.versions() == [4, 5]
    assert store.unfinished_deletes() == [1]


def test_keep_last_zero_still_finishes_a_delete_cut_short(store: ModelStore) -> None:
    from tests.modelstore.test_contract import overwrite

    publish_many(store, 2)
    overwrite(store, 1, ".deleting", b"")
    assert apply_retention(store, RetentionPolicy(keep_last=0, keep_every=0)) == []
    assert store.unfinished_deletes() == []
    assert store.versions() == [2]


def test_the_publisher_applies_retention_after_each_publish(store: ModelStore) -> None:
    publisher = ModelPublisher(store, retention=RetentionPolicy(keep_last=2, keep_every=3))
    for step in range(1, 8):
        publisher.submit(f"onnx-{step}".encode(), b"ckpt", step=step, network=NETWORK)
    assert publisher.close(timeout=60)
    assert store.versions() == [3, 6, 7]


def test_storage_retention_keys_reach_the_trainer(tmp_path: Path) -> None:
    from trainer.wiring import trainer_inputs

    settings = load_settings(REPO / "config.toml", {
        "common": {"data_dir": tmp_path},
        "storage": {"model_keep_last": 7, "model_keep_every": 0}}, environ={})
    assert trainer_inputs(settings).retention == RetentionPolicy(keep_last=7, keep_every=0)
    defaults = load_settings(REPO / "config.toml", {"common": {"data_dir": tmp_path}},
                             environ={})
    assert trainer_inputs(defaults).retention == RetentionPolicy(keep_last=20, keep_every=50)


def test_the_publisher_keeps_the_versions_declared_protected(store: ModelStore) -> None:
    publisher = ModelPublisher(store, retention=RetentionPolicy(keep_last=2, keep_every=0),
                               protected=lambda: {1, 4})
    for step in range(1, 8):
        publisher.submit(f"onnx-{step}".encode(), b"ckpt", step=step, network=NETWORK)
    assert publisher.close(timeout=60)
    assert store.versions() == [1, 4, 6, 7]


def test_retention_is_skipped_while_the_protected_versions_cannot_be_read(
    store: ModelStore,
) -> None:
    def unreadable() -> set[int]:
        raise JournalError("journal down")

    publisher = ModelPublisher(store, retention=RetentionPolicy(keep_last=2, keep_every=0),
                               protected=unreadable)
    for step in range(1, 5):
        publisher.submit(f"onnx-{step}".encode(), b"ckpt", step=step, network=NETWORK)
    assert publisher.close(timeout=60)
    assert store.versions() == [1, 2, 3, 4]


def test_the_trainer_protects_the_arenas_promotions_from_its_journal(tmp_path: Path) -> None:
    from trainer.wiring import trainer_inputs

    settings = load_settings(REPO / "config.toml", {"common": {"data_dir": tmp_path,
                                                               "env_id": "tictactoe"}},
                             environ={})
    with open_journal(settings.storage, tmp_path) as journal:
        journal.record_promotion(PromotionRow("tictactoe", 3, None, 1.0))
        journal.record_promotion(PromotionRow("tictactoe", 9, 3, 2.0))
        journal.record_promotion(PromotionRow("connect4", 5, None, 3.0))
    inputs = trainer_inputs(settings)
    assert inputs.protected_versions is not None
    assert inputs.protected_versions() == {3, 9}


def test_retention_deletes_int8_models_with_their_versions(store: ModelStore) -> None:
    for step in range(1, 6):
        store.publish(f"onnx-{step}".encode(), b"ckpt", step=step, network=NETWORK,
                      int8=f"int8-{step}".encode())
    assert apply_retention(store, RetentionPolicy(keep_last=2, keep_every=0)) == [1, 2, 3]
    int8_left = {name for name in stored_names(store) if name.endswith("model.int8.onnx")}
    assert int8_left == {"v000004/model.int8.onnx", "v000005/model.int8.onnx"}
    assert [store.load_int8(v) for v in store.versions()] == [b"int8-4", b"int8-5"]

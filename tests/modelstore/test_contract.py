"""The ModelStore contract, run against the filesystem store and the S3 store alike.

The S3 runs talk to moto's S3 server on loopback, standing in for MinIO (see conftest.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from cartridge.modelstore import (
    CorruptModelError,
    MissingArtifactError,
    ModelStore,
    ModelStoreError,
)
from cartridge.modelstore.filesystem import FilesystemModelStore
from cartridge.modelstore.layout import sha256_hex
from cartridge.modelstore.s3 import S3ModelStore

NETWORK = {"kind": "mlp", "blocks": 2, "channels": 16}


def publish(store: ModelStore, tag: str, step: int = 10):
    return store.publish(f"onnx-{tag}".encode(), f"ckpt-{tag}".encode(), step=step, network=NETWORK)


def overwrite(store: ModelStore, version: int, name: str, data: bytes) -> str:
    """Replace one stored object behind the store's back; returns its key or path."""
    if isinstance(store, FilesystemModelStore):
        path = store.game_dir / f"v{version:06d}" / name
        path.write_bytes(data)
        return str(path)
    assert isinstance(store, S3ModelStore)
    key = f"{store.base}/v{version:06d}/{name}"
    store._put(key, data)
    return key


def remove(store: ModelStore, version: int, name: str) -> str:
    if isinstance(store, FilesystemModelStore):
        path = store.game_dir / f"v{version:06d}" / name
        path.unlink()
        return str(path)
    assert isinstance(store, S3ModelStore)
    key = f"{store.base}/v{version:06d}/{name}"
    store.client.remove_object(store.bucket, key)
    return key


def test_empty_store_has_no_pointers_or_versions(store: ModelStore) -> None:
    assert store.pointer("latest") is None
    assert store.pointer("best") is None
    assert store.latest() is None
    assert store.versions() == []


def test_publish_stores_blobs_metadata_and_moves_latest(store: ModelStore) -> None:
    info = publish(store, "a", step=123)
    assert info.version == 1
    assert store.pointer("latest") == 1
    assert store.load_onnx(1) == b"onnx-a"
    assert store.load_checkpoint(1) == b"ckpt-a"
    stored = store.info(1)
    assert stored == info
    assert stored.step == 123
    assert stored.network == NETWORK
    assert stored.env_id == "tictactoe"
    assert stored.sha256 == sha256_hex(b"onnx-a")
    assert stored.checkpoint_sha256 == sha256_hex(b"ckpt-a")
    assert (stored.onnx_bytes, stored.checkpoint_bytes) == (6, 6)
    assert stored.created_at > 0
    assert store.latest() == info


def test_versions_increase_and_are_listed_in_order(store: ModelStore) -> None:
    for index in range(12):
        assert publish(store, str(index), step=index).version == index + 1
    assert store.versions() == list(range(1, 13))
    assert store.pointer("latest") == 12
    assert store.load_onnx(3) == b"onnx-2"


def test_a_reopened_store_sees_the_same_models(store_factory: Callable[..., ModelStore]) -> None:
    # What a trainer restarted on another machine relies on to resume.
    publish(store_factory(), "a", step=500)
    reopened = store_factory()
    latest = reopened.latest()
    assert latest is not None and latest.step == 500
    assert reopened.load_checkpoint(latest.version) == b"ckpt-a"
    assert publish(reopened, "b").version == 2


def test_games_are_kept_apart(store_factory: Callable[..., ModelStore]) -> None:
    publish(store_factory("tictactoe"), "t")
    connect4 = store_factory("connect4")
    assert connect4.versions() == []
    assert connect4.pointer() is None
    assert publish(connect4, "c").version == 1


def test_promote_moves_best_only(store: ModelStore) -> None:
    publish(store, "a")
    publish(store, "b")
    store.promote(1)
    assert store.pointer("best") == 1
    assert store.pointer("latest") == 2
    store.promote(2)
    assert store.pointer("best") == 2


def test_promote_refuses_a_missing_version(store: ModelStore) -> None:
    publish(store, "a")
    with pytest.raises(CorruptModelError, match="v000007"):
        store.promote(7)
    assert store.pointer("best") is None


def test_keys_are_zero_padded_so_they_sort_as_text(store: ModelStore) -> None:
    publish(store, "a")
    if isinstance(store, FilesystemModelStore):
        names = sorted(path.name for path in store.game_dir.iterdir())
    else:
        assert isinstance(store, S3ModelStore)
        listing = store.client.list_objects(store.bucket, prefix=store.base + "/", recursive=True)
        names = sorted(item.object_name[len(store.base) + 1:] for item in listing)
    assert "v000001/model.onnx" in names or "v000001" in names
    assert "latest" in names
    if isinstance(store, FilesystemModelStore):
        contents = sorted(path.name for path in (store.game_dir / "v000001").iterdir())
        assert contents == ["checkpoint.pt", "meta.json", "model.onnx"]
        # The seeds' fixed path follows latest.
        assert (store.game_dir / "model.onnx").read_bytes() == b"onnx-a"
    else:
        assert {"v000001/model.onnx", "v000001/checkpoint.pt", "v000001/meta.json"} <= set(names)


@pytest.mark.parametrize(
    ("name", "load"),
    [("model.onnx", "load_onnx"), ("checkpoint.pt", "load_checkpoint")],
)
def test_a_corrupt_blob_is_refused_naming_it(store: ModelStore, name: str, load: str) -> None:
    publish(store, "a")
    where = overwrite(store, 1, name, b"bit rot")
    with pytest.raises(CorruptModelError) as caught:
        getattr(store, load)(1)
    assert where in str(caught.value)
    assert "sha256" in str(caught.value)


def test_corrupt_metadata_is_refused_naming_it(store: ModelStore) -> None:
    publish(store, "a")
    where = overwrite(store, 1, "meta.json", b"{not json")
    with pytest.raises(CorruptModelError) as caught:
        store.info(1)
    assert where in str(caught.value)
    with pytest.raises(CorruptModelError):
        store.load_onnx(1)


def test_metadata_of_another_version_is_refused(store: ModelStore) -> None:
    publish(store, "a")
    publish(store, "b")
    other = (store.game_dir / "v000001" / "meta.json").read_bytes() if isinstance(
        store, FilesystemModelStore) else store._get(f"{store.base}/v000001/meta.json")[0]
    overwrite(store, 2, "meta.json", other)
    with pytest.raises(CorruptModelError, match="expected tictactoe version 2"):
        store.info(2)


@pytest.mark.parametrize("name", ["model.onnx", "checkpoint.pt", "meta.json"])
def test_a_missing_object_is_refused_naming_it(store: ModelStore, name: str) -> None:
    publish(store, "a")
    where = remove(store, 1, name)
    load = store.load_checkpoint if name == "checkpoint.pt" else store.load_onnx
    with pytest.raises(CorruptModelError) as caught:
        load(1)
    assert where in str(caught.value)


def test_a_pointer_to_a_missing_version_is_refused(store: ModelStore) -> None:
    publish(store, "a")
    for name in ("model.onnx", "checkpoint.pt", "meta.json"):
        remove(store, 1, name)
    assert store.pointer("latest") == 1  # the pointer itself is readable...
    with pytest.raises(CorruptModelError, match="v000001"):
        store.latest()  # ...but what it names is gone
    with pytest.raises(CorruptModelError, match="v000001"):
        store.load_onnx(1)


def test_concurrent_publishers_get_distinct_versions(
    store_factory: Callable[..., ModelStore],
) -> None:
    publishers, rounds = 4, 3
    results: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(publishers)

    def run(index: int) -> None:
        store = store_factory()  # a store per thread, as separate trainer processes would have
        try:
            start.wait()
            for round_ in range(rounds):
                info = publish(store, f"{index}-{round_}")
                with lock:
                    results.append(info.version)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(publishers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    total = publishers * rounds
    assert sorted(results) == list(range(1, total + 1))
    store = store_factory()
    assert store.versions() == list(range(1, total + 1))
    # `latest` never moves backwards past a racing publisher's newer version.
    assert store.pointer("latest") == total
    contents = {store.load_onnx(version) for version in store.versions()}
    assert len(contents) == total


def test_readers_never_see_a_partial_model(store_factory: Callable[..., ModelStore]) -> None:
    writer_store, reader_store = store_factory(), store_factory()
    done = threading.Event()
    problems: list[BaseException] = []
    seen: set[int] = set()

    def read() -> None:
        while not done.is_set():
            try:
                version = reader_store.pointer("latest")
                if version is None:
                    continue
                info = reader_store.info(version)
                assert reader_store.load_onnx(version) == f"onnx-{version}".encode() * 2000
                assert reader_store.load_checkpoint(version) == f"ckpt-{version}".encode() * 4000
                assert info.version == version
                seen.add(version)
            except BaseException as err:
                problems.append(err)
                return

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for version in range(1, 16):
            info = writer_store.publish(
                f"onnx-{version}".encode() * 2000, f"ckpt-{version}".encode() * 4000,
                step=version, network=NETWORK,
            )
            assert info.version == version
    finally:
        done.set()
        reader.join()
    assert problems == []
    assert seen  # the reader did read models while they were being published


def test_an_unfinished_version_is_not_listed_and_not_reused(tmp_path: Path) -> None:
    # A publisher that died after claiming a version (filesystem: the folder exists).
    store = FilesystemModelStore(tmp_path, "tictactoe")
    (store.game_dir / "v000001").mkdir()
    assert store.versions() == []
    assert publish(store, "a").version == 2
    assert store.versions() == [2]


def test_a_filesystem_delete_removes_what_else_the_folder_holds(tmp_path: Path) -> None:
    # The temporary file of a marker write cut short: rmdir would refuse the folder.
    store = FilesystemModelStore(tmp_path, "tictactoe")
    publish(store, "a")
    publish(store, "b")
    (store.game_dir / "v000001" / ".deleting.0123.tmp").write_bytes(b"")
    store.delete(1)
    assert not (store.game_dir / "v000001").exists()
    assert store.versions() == [2]


def test_the_run_that_produced_a_model_travels_in_its_metadata(
    store_factory: Callable[..., ModelStore],
) -> None:
    run = {"git_commit": "abc123", "git_dirty": False, "command": "cartridge run",
           "settings": {"common": {"env_id": "tictactoe"}}}
    info = store_factory().publish(b"o", b"c", step=5, network=NETWORK, run=run)
    assert info.run == run
    assert store_factory().info(info.version).run == run  # read back by a new reader
    assert publish(store_factory(), "b").run is None


# ---------------------------------------------------------------------------- int8 model


def publish_with_int8(store: ModelStore, tag: str):
    return store.publish(f"onnx-{tag}".encode(), f"ckpt-{tag}".encode(), step=10,
                         network=NETWORK, int8=f"int8-{tag}".encode())


def test_an_int8_model_is_stored_with_its_sha256(store_factory: Callable[..., ModelStore]) -> None:
    info = publish_with_int8(store_factory(), "a")
    reader = store_factory()  # another process, as an actor is
    stored = reader.info(info.version)
    assert stored == info
    assert stored.int8_sha256 == sha256_hex(b"int8-a")
    assert stored.int8_bytes == len(b"int8-a")
    assert reader.load_int8(1) == b"int8-a"
    assert reader.load_model(1, "int8") == b"int8-a"
    assert reader.load_model(1, "fp32") == b"onnx-a"
    assert reader.load_onnx(1) == b"onnx-a"  # the fp32 model is untouched


def test_a_version_without_int8_model_is_a_clear_error(store: ModelStore) -> None:
    info = publish(store, "a")
    assert (info.int8_sha256, info.int8_bytes) == (None, 0)
    with pytest.raises(MissingArtifactError) as caught:
        store.load_model(1, "int8")
    message = str(caught.value)
    assert "version 1" in message and "model.int8.onnx" in message and "v000001" in message
    assert "publish_int8" in message  # says how to get one
    assert store.load_model(1, "fp32") == b"onnx-a"


def test_metadata_from_before_int8_reads_as_without_one(store: ModelStore) -> None:
    """Versions published before int8 existed have no int8 fields in meta.json."""
    info = publish(store, "a")
    old = {key: value for key, value in info.to_json().items()
           if key not in ("int8_sha256", "int8_bytes")}
    overwrite(store, 1, "meta.json", json.dumps(old).encode())
    assert store.info(1).int8_sha256 is None
    assert store.load_onnx(1) == b"onnx-a"
    with pytest.raises(MissingArtifactError, match="version 1"):
        store.load_int8(1)


def test_a_corrupt_or_missing_int8_model_is_refused_naming_it(store: ModelStore) -> None:
    publish_with_int8(store, "a")
    publish_with_int8(store, "b")
    where = overwrite(store, 1, "model.int8.onnx", b"bit rot")
    with pytest.raises(CorruptModelError, match="sha256") as caught:
        store.load_int8(1)
    assert where in str(caught.value)
    where = remove(store, 2, "model.int8.onnx")
    with pytest.raises(CorruptModelError) as caught:
        store.load_int8(2)
    assert where in str(caught.value)
    assert not isinstance(caught.value, MissingArtifactError)  # published, then lost


def test_delete_removes_the_int8_model_too(store: ModelStore) -> None:
    publish_with_int8(store, "a")
    publish_with_int8(store, "b")
    assert stored_names(store, 1) >= {"model.onnx", "model.int8.onnx", "meta.json"}
    store.delete(1)
    assert store.versions() == [2]
    assert stored_names(store, 1) == set()
    assert store.load_int8(2) == b"int8-b"


def test_a_version_is_unlisted_once_its_delete_starts(store: ModelStore) -> None:
    publish(store, "a")
    publish(store, "b")
    assert store.unfinished_deletes() == []
    overwrite(store, 1, ".deleting", b"")  # what delete() does first
    assert store.versions() == [2]
    assert store.unfinished_deletes() == [1]
    with pytest.raises(ModelStoreError, match=r"v000001.*not promoted, its delete has started"):
        store.promote(1)
    store.delete(1)
    assert stored_names(store, 1) == set()
    assert (store.versions(), store.unfinished_deletes()) == ([2], [])


def stored_names(store: ModelStore, version: int) -> set[str]:
    """The files or objects of one version (the S3 claim marker left out)."""
    folder = f"v{version:06d}"
    if isinstance(store, FilesystemModelStore):
        path = store.game_dir / folder
        return {p.name for p in path.iterdir()} if path.exists() else set()
    assert isinstance(store, S3ModelStore)
    listing = store.client.list_objects(store.bucket, prefix=f"{store.base}/{folder}/",
                                        recursive=True)
    return {item.object_name.rsplit("/", 1)[1] for item in listing} - {".claim"}


def test_a_retried_publish_of_the_newest_model_stores_it_once(store: ModelStore) -> None:
    # A publish whose reply was lost in a store outage is retried by the trainer with
    # the same model and step: the store must not keep a second copy of the checkpoint.
    first = publish(store, "a", step=15)
    again = publish(store, "a", step=15)
    assert again == first
    assert store.versions() == [first.version]
    assert store.pointer("latest") == first.version
    # Anything else is a new version: another model at that step, the model at another.
    assert publish(store, "b", step=15).version == first.version + 1
    assert publish(store, "b", step=30).version == first.version + 2

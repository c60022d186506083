"""A cache or data folder that is read-only, missing (and not creatable) or full does not stop
the app: gunicorn (the Procfile's command, 2 workers) starts, serves every dataset without
the folder (slower, uncached) and logs a warning naming it; an upload onto a full disk gets a
message saying so.

Read-only and full folders are real: as root (which ignores permissions) the server runs in a
private mount namespace (``unshare -m``) where the folder is a read-only or a 256 KB tmpfs; as
another user a read-only folder is ``chmod 555`` (the full-disk case then needs root).
"""

from __future__ import annotations

import base64
import errno
import os
import shlex
import shutil

import pytest

from tests.badinput.make_corpus import _csv, _rows
from tests.callback_client import state_key
from tests.servers import AppServer, ServerCallbacks, flat_text, start_servers

DATASET = state_key("dataset")
IS_ROOT = os.geteuid() == 0


def faulty_server(root, env, read_only=(), tiny=(), workers=2) -> AppServer:
    """An AppServer whose ``read_only`` folders cannot be written and whose ``tiny`` folders
    hold 256 KB."""
    srv = AppServer(root, env, workers=workers)
    for folder in (*read_only, *tiny):
        folder.mkdir(parents=True, exist_ok=True)
    if IS_ROOT:
        if not shutil.which("unshare"):
            pytest.skip("unshare is not installed (needed as root for a read-only folder)")
        mounts = [(d, "ro,size=1m") for d in read_only] + [(d, "size=256k") for d in tiny]
        script = "set -e; " + "; ".join(
            f"mount -t tmpfs -o {opt} tmpfs {shlex.quote(str(d))}" for d, opt in mounts
        )
        wrapper = ["unshare", "-m", "--propagation", "private", "sh", "-c"]
        srv.argv = [*wrapper, script + '; exec "$@"', "sh", *srv.argv]
    else:
        if tiny:
            pytest.skip("a full file system needs root (a tmpfs mount)")
        for folder in read_only:
            folder.chmod(0o555)
    return srv


def upload(callbacks: ServerCallbacks, data: bytes, filename: str = "shop.csv"):
    contents = "data:text/csv;base64," + base64.b64encode(data).decode()
    reply = callbacks.call(
        "upload-result",
        {
            "upload-file.contents": contents,
            "upload-file.filename": filename,
            "upload-currency.value": "£",
        },
        changed="upload-file.contents",
    )
    assert reply.status == 200, reply.text[:300]
    return flat_text(reply.json())


def overview(callbacks: ServerCallbacks, dataset: str) -> str:
    reply = callbacks.call("overview-kpis", {DATASET: dataset})
    assert reply.status == 200, reply.text[:300]
    return flat_text(reply.json())


def test_a_read_only_cache_folder_without_results_serves_uncached(tmp_path):
    shop = tmp_path / "data" / "shop.csv"
    shop.parent.mkdir(parents=True)
    shop.write_bytes(_csv(_rows(n_customers=25)))
    cache = tmp_path / "ro-cache"  # empty: results/ does not exist and cannot be made
    srv = faulty_server(
        tmp_path, {"CACHE_DIR": str(cache), "DATA_PATH": str(shop)}, read_only=[cache]
    )
    start_servers(srv)
    try:
        assert srv.get("/health").status == 200
        callbacks = ServerCallbacks(srv)
        for _ in range(2):  # both workers, twice: computed each time, never an error
            assert "Customers 25" in overview(callbacks, "shop")
            assert "Net revenue" in overview(callbacks, "demo")
        log = srv.log()
        assert "results cache folder" in log and "is not usable" in log
        assert "cache folder" in log and ("read-only" in log or "permission denied" in log)
        assert "Traceback" not in log and "Worker failed to boot" not in log
        assert not any(cache.iterdir())
    finally:
        srv.stop()


def test_missing_data_and_cache_folders_that_cannot_be_created(tmp_path):
    locked = tmp_path / "locked"  # read-only parent: data/ and cache/ cannot be created
    env = {"DATA_DIR": str(locked / "data"), "CACHE_DIR": str(locked / "cache")}
    srv = faulty_server(tmp_path, env, read_only=[locked])
    start_servers(srv)
    try:
        callbacks = ServerCallbacks(srv)
        assert "Net revenue" in overview(callbacks, "demo")
        shown = upload(callbacks, _csv(_rows()))
        assert "could not be stored" in shown and "read-only" in shown
        assert "Something went wrong" not in shown
        assert "Traceback" not in srv.log()
    finally:
        srv.stop()


def test_an_upload_onto_a_full_disk_says_so(tmp_path):
    data = tmp_path / "tiny-data"
    srv = faulty_server(tmp_path, {"DATA_DIR": str(data)}, tiny=[data], workers=1)
    start_servers(srv)
    try:
        callbacks = ServerCallbacks(srv)
        big = _csv(_rows(n_customers=2000, lines_per_customer=3))  # ~400 KB > 256 KB
        assert len(big) > 300_000
        shown = upload(callbacks, big)
        assert "disk is full" in shown and "shop.csv" in shown, shown
        assert "Something went wrong" not in shown
        small = upload(callbacks, _csv(_rows(n_customers=20)), "small.csv")
        assert "Loaded" in small, small  # the failed upload left nothing behind
    finally:
        srv.stop()


def test_the_full_disk_message_without_a_mount(tmp_path, monkeypatch):
    """The same message where no tmpfs can be mounted (ENOSPC raised by the write)."""
    from dashapp.ingest import uploads

    def no_space(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(uploads.tempfile, "mkstemp", no_space)
    with pytest.raises(uploads.UploadError, match="disk is full"):
        uploads.store_upload(b"a,b\n1,2\n", "shop.csv", tmp_path, "session:x")
    assert not any(tmp_path.iterdir()), "a failed upload leaves no folder behind"

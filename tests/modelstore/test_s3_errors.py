"""Start-up errors of the S3 store: clear, naming endpoint and bucket, never the secret.

moto's S3 server stands in for MinIO (see conftest.py). This module runs one in a
process of its own with authentication switched on (moto accepts anything by
default), with one IAM user allowed s3:* and one allowed nothing.
"""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest

from cartridge.modelstore import ModelStoreConnectionError
from cartridge.modelstore.s3 import S3ModelStore
from tests.ports import ReservedPort

from .conftest import SECRET_KEY

BUCKET = "cartridge-auth"


@dataclass(frozen=True)
class AuthServer:
    endpoint: str
    allowed: tuple[str, str]  # (access key, secret key) of a user allowed s3:*
    denied: tuple[str, str]  # of a user with no permissions


# A moto server in a process of its own, on a port the kernel picks (port 0): it prints
# the port once it listens.
_SERVER = """
import threading
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
threading.Event().wait()
"""


def _read_port(process: subprocess.Popen[str], timeout: float = 60.0) -> int:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise RuntimeError(f"moto server did not report its port within {timeout:.0f} s")
    line = process.stdout.readline()
    if not line.strip().isdigit():
        raise RuntimeError(f"moto server exited ({process.wait(timeout=30)}) without a port")
    return int(line)


def _wait_until_up(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:  # never ask whatever else may answer on the port
            raise RuntimeError(f"moto server at {url} exited ({process.returncode})")
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
            return
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"moto server at {url} did not start") from None
            time.sleep(0.1)


@pytest.fixture(scope="module")
def auth_server() -> Iterator[AuthServer]:
    process = subprocess.Popen([sys.executable, "-c", _SERVER], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    try:
        port = _read_port(process)
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(url, process)
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id="setup", aws_secret_access_key="setup")

        def user(name: str, allow_s3: bool) -> tuple[str, str]:
            iam.create_user(UserName=name)
            if allow_s3:
                iam.put_user_policy(UserName=name, PolicyName="s3", PolicyDocument=json.dumps({
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
                }))
            key = iam.create_access_key(UserName=name)["AccessKey"]
            return key["AccessKeyId"], key["SecretAccessKey"]

        allowed, denied = user("trainer", True), user("nobody", False)
        # From now on every request is authenticated and authorised.
        urllib.request.urlopen(urllib.request.Request(
            url + "/moto-api/reset-auth", data=b"0", method="POST",
            headers={"Content-Type": "text/plain"},
        )).close()
        yield AuthServer(f"127.0.0.1:{port}", allowed, denied)
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()


def open_store(endpoint: str, access_key: str, secret_key: str, **kwargs) -> S3ModelStore:
    options = {"bucket": BUCKET, "secure": False, **kwargs}
    return S3ModelStore(endpoint=endpoint, env_id="tictactoe", access_key=access_key,
                        secret_key=secret_key, **options)


def assert_names_endpoint_and_bucket(
    err: pytest.ExceptionInfo[ModelStoreConnectionError], endpoint: str, bucket: str, secret: str
) -> None:
    message = str(err.value)
    assert endpoint in message
    assert repr(bucket) in message
    assert secret not in message


def test_good_credentials_create_a_private_bucket(auth_server: AuthServer) -> None:
    store = open_store(auth_server.endpoint, *auth_server.allowed)
    store.publish(b"onnx", b"ckpt", step=1, network={})
    assert store.pointer() == 1
    # Anonymous requests are refused: the bucket was created without any public policy.
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"http://{auth_server.endpoint}/{BUCKET}/{store.base}/latest")
    assert caught.value.code == 403


def test_wrong_secret_is_a_clear_error(auth_server: AuthServer) -> None:
    access_key, _ = auth_server.allowed
    with pytest.raises(ModelStoreConnectionError, match="credentials rejected") as caught:
        open_store(auth_server.endpoint, access_key, SECRET_KEY)
    assert_names_endpoint_and_bucket(caught, auth_server.endpoint, BUCKET, SECRET_KEY)


def test_unknown_access_key_is_a_clear_error(auth_server: AuthServer) -> None:
    with pytest.raises(ModelStoreConnectionError, match="credentials rejected") as caught:
        open_store(auth_server.endpoint, "AKIANOSUCHKEY", SECRET_KEY)
    assert_names_endpoint_and_bucket(caught, auth_server.endpoint, BUCKET, SECRET_KEY)


def test_missing_permission_is_a_clear_error(auth_server: AuthServer) -> None:
    access_key, secret_key = auth_server.denied
    with pytest.raises(ModelStoreConnectionError, match="permission denied") as caught:
        open_store(auth_server.endpoint, access_key, secret_key)
    assert_names_endpoint_and_bucket(caught, auth_server.endpoint, BUCKET, secret_key)


def test_nothing_listening_is_a_clear_error() -> None:
    with ReservedPort() as closed:  # bound, never listening: connections are refused
        endpoint = f"127.0.0.1:{closed.port}"
        with pytest.raises(ModelStoreConnectionError, match="cannot reach") as caught:
            open_store(endpoint, "key", SECRET_KEY)
    assert_names_endpoint_and_bucket(caught, endpoint, BUCKET, SECRET_KEY)


def test_unknown_host_is_a_clear_error() -> None:
    endpoint = "no-such-host.invalid:9000"
    with pytest.raises(ModelStoreConnectionError, match="cannot reach") as caught:
        open_store(endpoint, "key", SECRET_KEY)
    assert_names_endpoint_and_bucket(caught, endpoint, BUCKET, SECRET_KEY)


def test_tls_to_a_plain_http_server_is_a_clear_error(auth_server: AuthServer) -> None:
    with pytest.raises(ModelStoreConnectionError, match="https://") as caught:
        open_store(auth_server.endpoint, *auth_server.allowed, secure=True)
    assert_names_endpoint_and_bucket(caught, auth_server.endpoint, BUCKET, SECRET_KEY)


def test_an_endpoint_with_a_scheme_is_a_clear_error() -> None:
    with pytest.raises(ModelStoreConnectionError, match="host:port") as caught:
        open_store("http://127.0.0.1:9000", "key", SECRET_KEY)
    assert_names_endpoint_and_bucket(caught, "127.0.0.1:9000", BUCKET, SECRET_KEY)


def test_an_invalid_bucket_name_is_a_clear_error() -> None:
    with ReservedPort() as closed, pytest.raises(ModelStoreConnectionError,
                                                  match="bucket") as caught:
        open_store(f"127.0.0.1:{closed.port}", "key", SECRET_KEY, bucket="No_Such")
    assert_names_endpoint_and_bucket(caught, "127.0.0.1", "No_Such", SECRET_KEY)

"""Start-up errors of the S3 store: clear, naming endpoint and bucket, never the secret.

moto's S3 server stands in for MinIO (see conftest.py). This module runs one in a
process of its own with authentication switched on (moto accepts anything by
default), with one IAM user allowed s3:* and one allowed nothing.
"""

from __future__ import annotations

import json
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

from .conftest import SECRET_KEY, free_port

BUCKET = "cartridge-auth"


@dataclass(frozen=True)
class AuthServer:
    endpoint: str
    allowed: tuple[str, str]  # (access key, secret key) of a user allowed s3:*
    denied: tuple[str, str]  # of a user with no permissions


def _wait_until_up(url: str) -> None:
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise RuntimeError(f"moto server at {url} did not start")


@pytest.fixture(scope="module")
def auth_server() -> Iterator[AuthServer]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url)
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
    endpoint = f"127.0.0.1:{free_port()}"
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
    with pytest.raises(ModelStoreConnectionError, match="bucket") as caught:
        open_store(f"127.0.0.1:{free_port()}", "key", SECRET_KEY, bucket="No_Such")
    assert_names_endpoint_and_bucket(caught, "127.0.0.1", "No_Such", SECRET_KEY)

"""End-to-end fixtures. The S3 server is the model store tests' (moto stands in for MinIO)."""

from tests.modelstore.conftest import s3_bucket, s3_server  # noqa: F401 - fixtures reused

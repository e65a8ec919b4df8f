# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers of the minio_object module: destination paths, stale temp files, metadata, results."""

import os

import pytest

from ansible_collections.mt5crs.gpu_orchestrator.plugins.module_utils import _s3
from ansible_collections.mt5crs.gpu_orchestrator.plugins.modules import minio_object


def test_stale_temp_pattern_escapes_glob_characters(tmp_path):
    dest = tmp_path / 'data[1].bin'
    mine = tmp_path / '.data[1].bin.mt5crs-part-abc'
    other = tmp_path / '.data1.bin.mt5crs-part-abc'
    for path in (mine, other):
        path.write_bytes(b'x')
    assert minio_object.stale_temp_files(str(dest)) == [str(mine)]
    os.unlink(str(mine))
    assert minio_object.stale_temp_files(str(dest)) == []


def test_resolve_dest(tmp_path):
    assert minio_object.resolve_dest(str(tmp_path), 'a/b/c.parquet') == str(tmp_path / 'c.parquet')
    with pytest.raises(_s3.S3LocalFileError, match='does not exist'):
        minio_object.resolve_dest(str(tmp_path / 'missing' / 'x'), 'k')
    with pytest.raises(_s3.S3InputError, match='reserved'):
        minio_object.check_metadata({'MD5': 'x'})


def test_describe_absent_and_single_part():
    assert minio_object.describe(None) == dict(size=0, etag=None, multipart=False, parts=0, part_size=None)
    head = dict(size=3, etag='e', multipart=False, parts=1, part_size=5)
    assert minio_object.describe(head)['part_size'] is None


def test_argument_spec_keeps_design_names():
    spec = minio_object.argument_spec()
    for name in ('mode', 'bucket', 'key', 'src', 'dest', 'md5', 'overwrite', 'endpoint_url', 'access_key',
                 'secret_key', 'region', 'validate_certs'):
        assert name in spec
    assert spec['mode']['choices'] == ['put', 'get', 'delete']
    assert spec['overwrite']['choices'] == ['different', 'always', 'never']

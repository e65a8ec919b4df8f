# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers of plugins/module_utils/_s3.py: digests, ETags, keys, errors, client settings."""

import hashlib
import io

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from ansible_collections.mt5crs.gpu_orchestrator.plugins.module_utils import _s3

MIB = 1024 * 1024


def data_of(size, seed=0):
    block = hashlib.sha256(b'%d' % seed).digest()
    return (block * (size // len(block) + 1))[:size]


def reference_multipart_etag(data, part_size):
    digests = [hashlib.md5(data[i:i + part_size]).digest() for i in range(0, len(data), part_size)] or \
        [hashlib.md5(b'').digest()]
    return '%s-%d' % (hashlib.md5(b''.join(digests)).hexdigest(), len(digests))


def test_multipart_etag_matches_the_s3_rule():
    parts = [b'a' * 10, b'b' * 10, b'c' * 3]
    digests = [hashlib.md5(p).digest() for p in parts]
    assert _s3.multipart_etag(digests) == hashlib.md5(b''.join(digests)).hexdigest() + '-3'


@pytest.mark.parametrize('size,part_size', [(0, 5 * MIB), (1, 5 * MIB), (5 * MIB, 5 * MIB), (5 * MIB + 1, 5 * MIB),
                                            (11 * MIB + 3, 5 * MIB), (3 * MIB, 1 * MIB)])
def test_file_digests_one_pass(tmp_path, size, part_size):
    data = data_of(size, size)
    path = tmp_path / 'f.bin'
    path.write_bytes(data)
    got = _s3.file_digests(str(path), part_size, chunk=700 * 1024)
    assert got['md5'] == hashlib.md5(data).hexdigest()
    assert got['size'] == size
    assert got['etag'] == reference_multipart_etag(data, part_size)
    assert _s3.file_digests(str(path))['etag'] is None


def test_file_digests_missing_file_is_a_typed_error(tmp_path):
    with pytest.raises(_s3.S3LocalFileError, match='Failed to read file: .*nope'):
        _s3.file_digests(str(tmp_path / 'nope'))


def test_hashing_reader_hashes_each_byte_once_despite_rereads():
    data = data_of(3000, 1)
    reader = _s3.HashingReader(io.BytesIO(data))
    assert reader.read(1000) == data[:1000]
    reader.seek(200)                    # a retried request re-reads from an earlier offset
    assert reader.read(1500) == data[200:1700]
    reader.seek(0, 2)
    assert reader.tell() == 3000
    reader.seek(1700)
    reader.read()
    assert reader.complete and reader.hashed_bytes == 3000
    assert reader.hexdigest() == hashlib.md5(data).hexdigest()


def test_hashing_reader_notices_a_skip():
    reader = _s3.HashingReader(io.BytesIO(b'x' * 100))
    reader.seek(50)
    reader.read(10)
    assert reader.complete is False


def test_hashing_writer_is_not_seekable_and_hashes():
    sink = io.BytesIO()
    writer = _s3.HashingWriter(sink)
    for piece in (b'abc', b'', b'def'):
        writer.write(piece)
    assert writer.seekable() is False
    assert sink.getvalue() == b'abcdef' and writer.size == 6
    assert writer.hexdigest() == hashlib.md5(b'abcdef').hexdigest()


def test_body_md5_restores_position():
    body = io.BytesIO(b'0123456789')
    body.seek(3)
    assert _s3.body_md5(body) == hashlib.md5(b'3456789').digest()
    assert body.tell() == 3
    assert _s3.body_md5(b'xy') == hashlib.md5(b'xy').digest()
    assert _s3.body_md5(None) == hashlib.md5(b'').digest()


@pytest.mark.parametrize('key', ['a', 'with space/x y.txt', 'ünïcode/数据', 'plus+%#', 'a/b/c/', 'x' * 1024])
def test_normalize_key_accepts(key):
    assert _s3.normalize_key(key) == key


@pytest.mark.parametrize('key,pattern', [('', 'empty'), ('/lead', "starts with '/'.*'lead'"),
                                         ('x' * 1025, '1025 bytes'), ('é' * 513, '1026 bytes'),
                                         ('a\x00b', 'NUL')])
def test_normalize_key_rejects(key, pattern):
    with pytest.raises(_s3.S3InputError, match=pattern):
        _s3.normalize_key(key)


def test_normalize_md5():
    assert _s3.normalize_md5(' "D41D8CD98F00B204E9800998ECF8427E" ') == 'd41d8cd98f00b204e9800998ecf8427e'
    for bad in ('', 'abc', 'g' * 32, None):
        with pytest.raises(_s3.S3InputError, match='32 hexadecimal digits'):
            _s3.normalize_md5(bad)


def test_parse_etag_and_part_count():
    assert _s3.parse_etag('"abc"') == ('abc', None)
    assert _s3.parse_etag('"ABC-12"') == ('abc', 12)
    assert _s3.parse_etag(None) == (None, None)
    assert _s3.part_count(0, 5) == 1 and _s3.part_count(10, 5) == 2 and _s3.part_count(11, 5) == 3
    with pytest.raises(_s3.S3InputError):
        _s3.part_count(1, 0)


def test_adjusted_part_size_follows_s3_limits():
    assert _s3.adjusted_part_size(1 * MIB, 100) == 5 * MIB
    assert _s3.adjusted_part_size(8 * MIB, 1024 * MIB) == 8 * MIB
    big = 200 * 1024 * MIB
    assert _s3.part_count(big, _s3.adjusted_part_size(8 * MIB, big)) <= 10000


def test_remote_matches_local_needs_size_and_etag():
    md5 = hashlib.md5(b'abc').hexdigest()
    single = dict(size=3, etag=md5, etag_normalized=md5)
    assert _s3.remote_matches_local(single, md5, 3)
    assert not _s3.remote_matches_local(dict(single, size=4), md5, 3)
    assert not _s3.remote_matches_local(dict(single, etag='0' * 32, etag_normalized='0' * 32), md5, 3)
    multi = dict(size=3, etag='ffff-2', etag_normalized='ffff-2')
    assert _s3.remote_matches_local(multi, md5, 3, 'ffff-2')
    assert not _s3.remote_matches_local(multi, md5, 3, 'eeee-2')
    assert not _s3.remote_matches_local(multi, md5, 3, None)
    assert not _s3.remote_matches_local(None, md5, 3)


def test_expected_md5_order():
    md5 = 'a' * 32
    head = dict(stored_md5='b' * 32, multipart=False, etag='c' * 32)
    assert _s3.expected_md5(head, md5) == (md5, 'option')
    assert _s3.expected_md5(head) == ('b' * 32, 'metadata')
    assert _s3.expected_md5(dict(head, stored_md5=None)) == ('c' * 32, 'etag')
    assert _s3.expected_md5(dict(head, stored_md5=None, multipart=True, etag='c' * 32 + '-3')) == (None, None)


def test_describe_head_reads_metadata():
    import datetime
    head = _s3.describe_head({'ContentLength': 11, 'ETag': '"%s-3"' % ('a' * 32),
                              'Metadata': {'md5': 'B' * 32, 'mt5crs-part-size': '5242880'},
                              'LastModified': datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc)})
    assert head['multipart'] and head['parts'] == 3 and head['part_size'] == 5 * MIB
    assert head['stored_md5'] == 'b' * 32 and head['last_modified'] == '2026-01-02T00:00:00+00:00'
    broken = _s3.describe_head({'ContentLength': 1, 'ETag': '"x"',
                                'Metadata': {'md5': 'nope', 'mt5crs-part-size': 'x'}})
    assert broken['stored_md5'] is None and broken['part_size'] is None


def client_error(code, status, operation='HeadObject'):
    return ClientError({'Error': {'Code': code, 'Message': 'msg'}, 'ResponseMetadata': {'HTTPStatusCode': status}},
                       operation)


@pytest.mark.parametrize('exc,cls,text', [
    (client_error('SignatureDoesNotMatch', 403), _s3.S3AccessError, 'access denied'),
    (client_error('403', 403), _s3.S3AccessError, 'check access_key and secret_key'),
    (client_error('NoSuchKey', 404), _s3.S3NotFoundError, 'not found'),
    (client_error('InternalError', 500), _s3.S3Error, 'InternalError'),
    (EndpointConnectionError(endpoint_url='http://127.0.0.1:1'), _s3.S3ConnectionError, 'unreachable'),
    (OSError(28, 'No space left on device'), _s3.S3LocalFileError, 'No space left'),
])
def test_translate_error(exc, cls, text):
    err = _s3.translate_error(exc, 'do things', 'http://127.0.0.1:1')
    assert err.__class__ is cls
    assert str(err).startswith('Failed to do things') and text in str(err)


def test_translate_error_masks_the_secret():
    err = _s3.translate_error(ValueError('bad value s3cr3tKEY here'), 'act', secret='s3cr3tKEY')
    assert 's3cr3tKEY' not in str(err) and '********' in str(err)


def test_translate_error_unwraps_retries_exceeded():
    from s3transfer.exceptions import RetriesExceededError
    err = _s3.translate_error(RetriesExceededError(EndpointConnectionError(endpoint_url='http://h')), 'download x')
    assert isinstance(err, _s3.S3ConnectionError)


def test_client_settings_default_to_minio_friendly_values():
    params = dict((name, spec.get('default')) for name, spec in _s3.connection_argument_spec().items())
    params.update(endpoint_url='http://127.0.0.1:9', access_key='AK', secret_key='SK')
    client = _s3.make_client(params)
    config = client.meta.config
    assert config.s3['addressing_style'] == 'path'
    assert config.connect_timeout == 10.0 and config.read_timeout == 60.0
    assert config.retries == {'total_max_attempts': 4, 'mode': 'standard'}
    assert config.request_checksum_calculation == 'when_required'
    assert config.response_checksum_validation == 'when_required'
    assert client.meta.region_name == 'us-east-1'


def test_connection_spec_secret_is_no_log_and_env_fallbacks():
    spec = _s3.connection_argument_spec()
    assert spec['secret_key']['no_log'] is True and spec['session_token']['no_log'] is True
    assert spec['secret_key']['fallback'][1][:2] == ['MT5CRS_S3_SECRET_KEY', 'AWS_SECRET_ACCESS_KEY']
    assert spec['endpoint_url']['fallback'][1][0] == 'MT5CRS_S3_ENDPOINT_URL'
    assert spec['access_key']['fallback'][1] == ['MT5CRS_S3_ACCESS_KEY', 'AWS_ACCESS_KEY_ID']
    assert spec['ca_bundle']['fallback'][1] == ['MT5CRS_S3_CA_BUNDLE', 'AWS_CA_BUNDLE']


def test_env_fallback_resolves_through_ansible(monkeypatch):
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    monkeypatch.setenv('MT5CRS_S3_ENDPOINT_URL', 'http://minio.local:9000')
    monkeypatch.setenv('AWS_ENDPOINT_URL', 'http://other:1')
    monkeypatch.setenv('AWS_SECRET_ACCESS_KEY', 'from-aws-env')
    monkeypatch.delenv('MT5CRS_S3_SECRET_KEY', raising=False)
    result = ArgumentSpecValidator(_s3.connection_argument_spec()).validate({})
    assert result.validated_parameters['endpoint_url'] == 'http://minio.local:9000'
    assert result.validated_parameters['secret_key'] == 'from-aws-env'
    assert 'from-aws-env' in result._no_log_values

# -*- coding: utf-8 -*-
# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""S3 helpers shared by the minio_* modules.

This module is private to the mt5crs.gpu_orchestrator collection: its names may change
without notice and it is not meant to be imported from outside the collection.

It holds the connection argument spec (kept in step with the ``s3`` doc fragment), the
client factory, one family of typed exceptions, and the pure helpers that prove bytes:
streaming MD5 readers and writers and multipart ETag arithmetic.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import collections
import concurrent.futures
import hashlib
import math
import os

from ansible.module_utils.basic import env_fallback

try:
    import boto3
    from botocore.config import Config
    from botocore import exceptions as botocore_exceptions
    from s3transfer.manager import TransferConfig, TransferManager
    from s3transfer.subscribers import BaseSubscriber
    from s3transfer.utils import ChunksizeAdjuster
    HAS_BOTO3 = True
    BOTO3_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised only without boto3
    HAS_BOTO3 = False
    BOTO3_IMPORT_ERROR = exc
    BaseSubscriber = object

MIB = 1024 * 1024
READ_CHUNK = 1 * MIB
MD5_METADATA_KEY = 'md5'
PART_SIZE_METADATA_KEY = 'mt5crs-part-size'
MAX_KEY_BYTES = 1024
MIN_PART_SIZE = 5 * MIB
MAX_PARTS = 10000
MAX_SINGLE_COPY_SIZE = 5 * 1024 * MIB
DEFAULT_REGION = 'us-east-1'

ENV_ENDPOINT = ['MT5CRS_S3_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL']
ENV_ACCESS_KEY = ['MT5CRS_S3_ACCESS_KEY', 'AWS_ACCESS_KEY_ID']
ENV_SECRET_KEY = ['MT5CRS_S3_SECRET_KEY', 'AWS_SECRET_ACCESS_KEY']
ENV_SESSION_TOKEN = ['MT5CRS_S3_SESSION_TOKEN', 'AWS_SESSION_TOKEN']
ENV_CA_BUNDLE = ['MT5CRS_S3_CA_BUNDLE', 'AWS_CA_BUNDLE']
ENV_REGION = ['MT5CRS_S3_REGION', 'AWS_REGION', 'AWS_DEFAULT_REGION']

ACCESS_DENIED_CODES = frozenset(['403', 'AccessDenied', 'SignatureDoesNotMatch', 'InvalidAccessKeyId',
                                 'InvalidToken', 'ExpiredToken', 'InvalidClientTokenId', 'AllAccessDisabled'])
NOT_FOUND_CODES = frozenset(['404', 'NoSuchKey', 'NoSuchBucket', 'NotFound'])


def new_md5(data=b''):
    """An MD5 object for integrity checks (not security), usable on FIPS-enabled hosts too."""
    return hashlib.md5(data, usedforsecurity=False)


def connection_argument_spec():
    """Options every minio_* module takes (documented in the s3 doc fragment)."""
    return dict(
        endpoint_url=dict(type='str', aliases=['s3_url'], fallback=(env_fallback, ENV_ENDPOINT)),
        access_key=dict(type='str', aliases=['aws_access_key'], no_log=False, fallback=(env_fallback, ENV_ACCESS_KEY)),
        secret_key=dict(type='str', aliases=['aws_secret_key'], no_log=True, fallback=(env_fallback, ENV_SECRET_KEY)),
        session_token=dict(type='str', no_log=True, fallback=(env_fallback, ENV_SESSION_TOKEN)),
        region=dict(type='str', fallback=(env_fallback, ENV_REGION)),
        validate_certs=dict(type='bool', default=True),
        ca_bundle=dict(type='path', fallback=(env_fallback, ENV_CA_BUNDLE)),
        addressing_style=dict(type='str', default='path', choices=['path', 'virtual', 'auto']),
        connect_timeout=dict(type='float', default=10.0),
        read_timeout=dict(type='float', default=60.0),
        max_attempts=dict(type='int', default=4),
        request_checksum_calculation=dict(type='str', default='when_required',
                                          choices=['when_required', 'when_supported']),
        response_checksum_validation=dict(type='str', default='when_required',
                                          choices=['when_required', 'when_supported']),
    )


def transfer_argument_spec():
    """Options of the modules that move object bytes."""
    return dict(
        multipart_threshold_mib=dict(type='int', default=8),
        multipart_chunksize_mib=dict(type='int', default=8),
        max_concurrency=dict(type='int', default=10),
    )


# ---------------------------------------------------------------------------
# Exceptions


class S3Error(Exception):
    """Base of the helpers' errors; the message reads "Failed to <action>: <value>"."""

    def __init__(self, message, **context):
        super(S3Error, self).__init__(message)
        self.context = context


class S3InputError(S3Error):
    """An option value cannot be used (bad key, bad digest, missing file)."""


class S3ConnectionError(S3Error):
    """The endpoint could not be reached or went away during a request."""


class S3AccessError(S3Error):
    """The server refused the credentials or the request (403)."""


class S3NotFoundError(S3Error):
    """The bucket or the object does not exist."""


class S3IntegrityError(S3Error):
    """Bytes do not match the digest they must have."""


class S3LocalFileError(S3Error):
    """A local file or directory cannot be read, written or moved."""


def _error_code(exc):
    err = getattr(exc, 'response', None) or {}
    code = str(err.get('Error', {}).get('Code', ''))
    status = err.get('ResponseMetadata', {}).get('HTTPStatusCode')
    return code, status


def translate_error(exc, action, endpoint=None, secret=None):
    """Turn a botocore/s3transfer exception into an S3Error naming action and cause.

    The text of the original exception is kept (botocore never puts a secret key in its
    messages), but any occurrence of ``secret`` is masked all the same.
    """
    if isinstance(exc, S3Error):
        return exc
    inner = getattr(exc, 'last_exception', None)
    if inner is not None:
        exc = inner
    text = scrub(str(exc), secret)
    where = ' at %s' % endpoint if endpoint else ''

    if HAS_BOTO3 and isinstance(exc, botocore_exceptions.ClientError):
        code, status = _error_code(exc)
        if code in ACCESS_DENIED_CODES or status == 403:
            return S3AccessError('Failed to %s: access denied%s (%s); check access_key and secret_key: %s'
                                 % (action, where, code or status, text), code=code, status=status)
        if code in NOT_FOUND_CODES or status == 404:
            return S3NotFoundError('Failed to %s: not found (%s)' % (action, code or status), code=code, status=status)
        return S3Error('Failed to %s%s: %s' % (action, where, text), code=code, status=status)
    if HAS_BOTO3 and isinstance(exc, (botocore_exceptions.EndpointConnectionError,
                                      botocore_exceptions.ConnectionClosedError,
                                      botocore_exceptions.ReadTimeoutError,
                                      botocore_exceptions.ConnectTimeoutError,
                                      botocore_exceptions.ResponseStreamingError,
                                      botocore_exceptions.IncompleteReadError)):
        return S3ConnectionError('Failed to %s: endpoint unreachable or connection lost%s: %s'
                                 % (action, where, text))
    if HAS_BOTO3 and isinstance(exc, botocore_exceptions.NoCredentialsError):
        return S3AccessError('Failed to %s: no credentials; set access_key and secret_key or MT5CRS_S3_ACCESS_KEY '
                             'and MT5CRS_S3_SECRET_KEY' % action)
    if HAS_BOTO3 and isinstance(exc, botocore_exceptions.BotoCoreError):
        return S3Error('Failed to %s%s: %s' % (action, where, text))
    if isinstance(exc, (OSError, IOError)):
        return S3LocalFileError('Failed to %s: %s' % (action, text))
    return S3Error('Failed to %s%s: %s: %s' % (action, where, type(exc).__name__, text))


def scrub(text, secret):
    """Mask secret inside text."""
    if secret and text:
        return text.replace(secret, '********')
    return text


# ---------------------------------------------------------------------------
# Keys, digests, ETags


def normalize_key(key):
    """Return key unchanged when S3 can store it as given; raise S3InputError otherwise.

    A leading '/' is rejected rather than stripped: '/a' and 'a' are different keys on S3,
    and silently mapping one to the other would let two tasks disagree about an object.
    """
    if key is None or key == '':
        raise S3InputError('Failed to use object key: the key is empty')
    if key.startswith('/'):
        raise S3InputError("Failed to use object key: %r starts with '/'; write it without the leading slash (%r)"
                           % (key, key.lstrip('/')))
    if len(key.encode('utf-8')) > MAX_KEY_BYTES:
        raise S3InputError('Failed to use object key: %d bytes in UTF-8, at most %d allowed'
                           % (len(key.encode('utf-8')), MAX_KEY_BYTES))
    if '\x00' in key:
        raise S3InputError('Failed to use object key: %r contains a NUL character' % key)
    return key


def normalize_md5(value):
    """Lower-case hex MD5 from a hex string (quotes stripped); raise S3InputError otherwise."""
    text = (value or '').strip().strip('"').lower()
    if len(text) != 32 or any(c not in '0123456789abcdef' for c in text):
        raise S3InputError('Failed to use md5: %r is not 32 hexadecimal digits' % value)
    return text


def parse_etag(etag):
    """Split an ETag into (hex digest, part count or None for a single-part ETag)."""
    text = (etag or '').strip().strip('"').lower()
    if not text:
        return None, None
    if '-' in text:
        digest, _sep, count = text.partition('-')
        try:
            return digest, int(count)
        except ValueError:
            return text, None
    return text, None


def part_count(size, part_size):
    """Number of parts of size part_size a multipart upload of size bytes uses (at least 1)."""
    if part_size <= 0:
        raise S3InputError('Failed to count parts: part size %r is not positive' % part_size)
    return max(1, int(math.ceil(size / float(part_size))))


def multipart_etag(part_digests):
    """S3's multipart ETag from the raw MD5 digests of the parts, in part order."""
    joined = b''.join(part_digests)
    return '%s-%d' % (new_md5(joined).hexdigest(), len(part_digests))


def adjusted_part_size(chunksize, size):
    """The part size s3transfer will really use for an object of size bytes."""
    if HAS_BOTO3:
        return ChunksizeAdjuster().adjust_chunksize(chunksize, size)
    chunk = max(chunksize, MIN_PART_SIZE)
    while int(math.ceil(size / float(chunk))) > MAX_PARTS:
        chunk *= 2
    return chunk


class _PartHasher:
    """Per-part MD5s of a byte stream fed in order (chunks never straddle a part boundary)."""

    def __init__(self, part_size):
        self.part_size = part_size
        self.parts = []
        self._part = new_md5()
        self._in_part = 0

    def update(self, data):
        self._part.update(data)
        self._in_part += len(data)
        if self._in_part == self.part_size:
            self.parts.append(self._part.digest())
            self._part = new_md5()
            self._in_part = 0

    def etag(self):
        if self._in_part or not self.parts:
            self.parts.append(self._part.digest())
            self._in_part = 0
        return multipart_etag(self.parts)


def file_digests(path, part_size=None, chunk=READ_CHUNK):
    """Read path once; return dict(md5, size, etag) where etag is the multipart ETag for part_size.

    ``etag`` is None when part_size is None. With a part size, the per-part hashing runs in a
    second thread (hashlib releases the GIL on large buffers), so both digests cost about one
    MD5 pass of wall time on a machine with two cores. Raises S3LocalFileError on read errors.
    """
    whole = new_md5()
    parts = _PartHasher(part_size) if part_size else None
    pending = collections.deque()
    size = 0
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool, open(path, 'rb') as handle:
            while True:
                want = chunk if parts is None else min(chunk, part_size - size % part_size)
                data = handle.read(want)
                if not data:
                    break
                if parts is not None:
                    pending.append(pool.submit(parts.update, data))
                    if len(pending) > 4:
                        pending.popleft().result()
                whole.update(data)
                size += len(data)
            while pending:
                pending.popleft().result()
    except (OSError, IOError) as exc:
        raise S3LocalFileError('Failed to read file: %s: %s' % (path, exc))
    return dict(md5=whole.hexdigest(), size=size, etag=parts.etag() if parts is not None else None)


def remote_matches_local(head, local_md5, local_size, local_mp_etag=None):
    """True when the object described by head holds exactly the local bytes.

    Both the size and the ETag must agree: a single-part ETag must equal the local MD5,
    a multipart ETag must equal the local file's multipart ETag computed with the part
    size recorded at upload (``local_mp_etag``). The stored MD5 alone proves nothing about
    the bytes, since metadata survives a replacement of the bytes behind our back.
    """
    if head is None or head.get('size') != local_size:
        return False
    digest, parts = parse_etag(head.get('etag'))
    if parts is None:
        return digest == local_md5
    if not local_mp_etag:
        return False
    return head.get('etag_normalized') == local_mp_etag


class HashingReader:
    """Seekable read-only wrapper that feeds each byte to MD5 the first time it is read.

    s3transfer reads a seekable upload source in order (part after part, or the whole body
    for a single PutObject); a retried request seeks back and re-reads, which must not be
    hashed twice. The wrapper keeps a watermark: only bytes beyond it are hashed. Should a
    reader ever skip ahead of the watermark, ``complete`` turns False and the caller knows
    the in-pass digest cannot be trusted.
    """

    def __init__(self, fileobj):
        self._fileobj = fileobj
        self._md5 = new_md5()
        self._hashed = 0
        self.complete = True

    def read(self, amount=-1):
        pos = self._fileobj.tell()
        data = self._fileobj.read(amount)
        end = pos + len(data)
        if data and end > self._hashed:
            if pos > self._hashed:
                self.complete = False
            else:
                self._md5.update(data[self._hashed - pos:] if pos < self._hashed else data)
                self._hashed = end
        return data

    def seek(self, offset, whence=0):
        return self._fileobj.seek(offset, whence)

    def tell(self):
        return self._fileobj.tell()

    def seekable(self):
        return True

    def readable(self):
        return True

    def close(self):
        self._fileobj.close()

    @property
    def hashed_bytes(self):
        return self._hashed

    def hexdigest(self):
        return self._md5.hexdigest()


class HashingWriter:
    """Non-seekable writer that hashes bytes as they go to the file.

    Being non-seekable makes s3transfer deliver ranged downloads in order (its DeferQueue),
    so the digest is taken in the same pass that writes the temporary file.
    """

    def __init__(self, fileobj):
        self._fileobj = fileobj
        self._md5 = new_md5()
        self.size = 0

    def write(self, data):
        self._md5.update(data)
        self.size += len(data)
        return self._fileobj.write(data)

    def seekable(self):
        return False

    def flush(self):
        self._fileobj.flush()

    def hexdigest(self):
        return self._md5.hexdigest()


def body_md5(body):
    """Raw MD5 digest of a request body (bytes or a seekable file), position restored."""
    if body is None:
        return new_md5(b'').digest()
    if isinstance(body, (bytes, bytearray)):
        return new_md5(body).digest()
    digest = new_md5()
    start = body.tell()
    pause = getattr(body, 'signal_not_transferring', None)
    if pause:
        pause()
    try:
        while True:
            data = body.read(READ_CHUNK)
            if not data:
                break
            digest.update(data)
    finally:
        body.seek(start)
        resume = getattr(body, 'signal_transferring', None)
        if resume:
            resume()
    return digest.digest()


class ContentMD5Recorder:
    """botocore event handler: Content-MD5 on every PutObject and UploadPart, digests kept.

    botocore 1.36 and later no longer compute Content-MD5 for uploads, and s3transfer does
    not accept a ContentMD5 extra argument, so the header is set here, before signing, from
    the body each request really carries. The per-part digests give the multipart ETag the
    server must report. For a single PutObject the body is the whole object, so its digest
    is also written as the object's stored MD5 metadata in the same request.
    """

    def __init__(self, store_md5_metadata=True):
        self.parts = {}
        self.single = None
        self.store_md5_metadata = store_md5_metadata

    def register(self, client):
        client.meta.events.register('before-call.s3.PutObject', self._on_put_object)
        client.meta.events.register('before-call.s3.UploadPart', self._on_upload_part)

    def _set_header(self, params):
        digest = body_md5(params.get('body'))
        params['headers']['Content-MD5'] = base64.b64encode(digest).decode('ascii')
        return digest

    def _on_put_object(self, params, **kwargs):
        digest = self._set_header(params)
        self.single = digest
        if self.store_md5_metadata:
            params['headers']['x-amz-meta-%s' % MD5_METADATA_KEY] = digest.hex()

    def _on_upload_part(self, params, **kwargs):
        digest = self._set_header(params)
        number = (params.get('query_string') or {}).get('partNumber')
        self.parts[int(number) if number is not None else len(self.parts) + 1] = digest

    def expected_etag(self):
        """ETag the server must report for what was sent, or None when nothing was sent."""
        if self.parts:
            return multipart_etag([self.parts[n] for n in sorted(self.parts)])
        if self.single is not None:
            return self.single.hex()
        return None


class ProgressCounter(BaseSubscriber):
    """s3transfer subscriber: counts object bytes moved; optionally seeds size and ETag."""

    def __init__(self, size=None, etag=None):
        self.bytes = 0
        self._size = size
        self._etag = etag

    def on_queued(self, future, **kwargs):
        if self._size is not None:
            future.meta.provide_transfer_size(self._size)
        if self._etag is not None:
            future.meta.provide_object_etag(self._etag)

    def on_progress(self, future, bytes_transferred, **kwargs):
        self.bytes += bytes_transferred


# ---------------------------------------------------------------------------
# Client


def client_config(params):
    """botocore Config from module params: addressing, timeouts, retries, checksums."""
    return Config(
        s3={'addressing_style': params.get('addressing_style') or 'path'},
        connect_timeout=params.get('connect_timeout'),
        read_timeout=params.get('read_timeout'),
        retries={'total_max_attempts': max(1, params.get('max_attempts') or 1), 'mode': 'standard'},
        request_checksum_calculation=params.get('request_checksum_calculation') or 'when_required',
        response_checksum_validation=params.get('response_checksum_validation') or 'when_required',
        max_pool_connections=max(10, (params.get('max_concurrency') or 10) + 2),
        user_agent_extra='mt5crs.gpu_orchestrator',
    )


def make_client(params):
    """boto3 S3 client from module params (credentials fall back to the environment)."""
    if not HAS_BOTO3:
        raise S3Error('Failed to import boto3: %s' % BOTO3_IMPORT_ERROR)
    verify = params.get('validate_certs', True)
    if verify and params.get('ca_bundle'):
        verify = params['ca_bundle']
    session = boto3.session.Session(
        aws_access_key_id=params.get('access_key') or None,
        aws_secret_access_key=params.get('secret_key') or None,
        aws_session_token=params.get('session_token') or None,
        region_name=params.get('region') or DEFAULT_REGION,
    )
    try:
        return session.client('s3', endpoint_url=params.get('endpoint_url') or None, verify=verify,
                              config=client_config(params))
    except (ValueError, botocore_exceptions.BotoCoreError) as exc:
        raise S3InputError('Failed to create S3 client for endpoint %s: %s'
                           % (params.get('endpoint_url'), scrub(str(exc), params.get('secret_key'))))


def transfer_config(params):
    """s3transfer TransferConfig from module params."""
    return TransferConfig(
        multipart_threshold=max(1, params.get('multipart_threshold_mib') or 8) * MIB,
        multipart_chunksize=max(1, params.get('multipart_chunksize_mib') or 8) * MIB,
        max_request_concurrency=max(1, params.get('max_concurrency') or 10),
        max_in_memory_upload_chunks=max(2, min(10, params.get('max_concurrency') or 10)),
        max_in_memory_download_chunks=256,
    )


def transfer_manager(client, config):
    return TransferManager(client, config)


def head_object(client, bucket, key, action='read object metadata', endpoint=None, secret=None):
    """HeadObject as a plain dict, or None when the object does not exist.

    A missing bucket raises S3NotFoundError (checked with HeadBucket only after a 404,
    since HeadObject cannot tell a missing key from a missing bucket).
    """
    try:
        resp = client.head_object(Bucket=bucket, Key=key)
    except Exception as exc:
        err = translate_error(exc, '%s s3://%s/%s' % (action, bucket, key), endpoint, secret)
        if not isinstance(err, S3NotFoundError):
            raise err
        check_bucket(client, bucket, endpoint, secret)
        return None
    return describe_head(resp)


def check_bucket(client, bucket, endpoint=None, secret=None):
    """Raise S3NotFoundError when bucket does not exist (or another S3Error)."""
    try:
        client.head_bucket(Bucket=bucket)
    except Exception as exc:
        err = translate_error(exc, 'find bucket %s' % bucket, endpoint, secret)
        if isinstance(err, S3NotFoundError):
            raise S3NotFoundError('Failed to find bucket: %s does not exist at %s'
                                  % (bucket, endpoint or 'the endpoint'))
        raise err


def describe_head(resp):
    """The fields of a HeadObject response the modules use, plain types only."""
    metadata = dict(resp.get('Metadata') or {})
    etag = (resp.get('ETag') or '').strip('"')
    digest, parts = parse_etag(etag)
    stored = metadata.get(MD5_METADATA_KEY)
    try:
        stored = normalize_md5(stored) if stored else None
    except S3InputError:
        stored = None
    part_size = metadata.get(PART_SIZE_METADATA_KEY)
    try:
        part_size = int(part_size) if part_size else None
    except ValueError:
        part_size = None
    last_modified = resp.get('LastModified')
    return dict(
        size=int(resp.get('ContentLength') or 0),
        etag=etag,
        etag_normalized=('%s-%d' % (digest, parts)) if parts else digest,
        multipart=parts is not None,
        parts=parts or 1,
        stored_md5=stored,
        part_size=part_size,
        metadata=metadata,
        content_type=resp.get('ContentType'),
        last_modified=last_modified.isoformat() if last_modified is not None else None,
        version_id=resp.get('VersionId'),
    )


def expected_md5(head, md5_option=None):
    """(md5, source) the object's bytes must hash to, or (None, None) when nothing says."""
    if md5_option:
        return normalize_md5(md5_option), 'option'
    if head.get('stored_md5'):
        return head['stored_md5'], 'metadata'
    if not head.get('multipart'):
        digest, _parts = parse_etag(head.get('etag'))
        if digest and len(digest) == 32:
            return digest, 'etag'
    return None, None


def safe_unlink(path):
    """Remove path when it exists; never raise."""
    try:
        if path and os.path.lexists(path):
            os.unlink(path)
    except OSError:
        pass

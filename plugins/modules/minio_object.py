#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: minio_object
short_description: Put, get or delete an object on MinIO or another S3 server, with MD5 proof
version_added: 0.1.0
description:
  - Uploads a file (or a short text) to a bucket, downloads an object to a file, or deletes an object, on any
    S3-compatible server such as MinIO.
  - Every transfer is proven by MD5. A put hashes the file in the same pass that reads it for the upload, sends
    Content-MD5 with every request that carries bytes (the single PutObject, or each UploadPart), stores the
    whole-file MD5 and the part size in the object's metadata, and reads the object back to compare size, stored
    MD5 and ETag before it reports success.
  - A get writes into a temporary file beside O(dest), hashing the bytes as they arrive, compares the digest with
    the expected MD5 and only then renames the file into place. On any failure the temporary file is removed and
    an existing O(dest) stays as it was.
  - Transfers use boto3's transfer manager (s3transfer) for multipart uploads, parallel ranged downloads and
    retries.
author:
  - mt5crs research platform team (@mt5crs)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - mt5crs.gpu_orchestrator.s3
  - mt5crs.gpu_orchestrator.s3.transfer
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads the object's metadata and hashes local files to predict C(changed), and transfers nothing.
  diff_mode:
    support: full
    details:
      - The diff shows the MD5 and size of the target before and after (the remote object for put and delete,
        the local file for get).
  platform:
    platforms: posix
options:
  mode:
    description:
      - V(put) uploads O(src) or O(content) to O(bucket)/O(key).
      - V(get) downloads O(bucket)/O(key) to O(dest).
      - V(delete) removes O(bucket)/O(key); a missing object is not an error and reports no change.
    type: str
    required: true
    choices: [put, get, delete]
  bucket:
    description:
      - Name of the bucket. It must exist; use M(mt5crs.gpu_orchestrator.minio_bucket) to create it.
    type: str
    required: true
  key:
    description:
      - Object key. Spaces, Unicode, V(+), V(%), V(#) and V(/)-separated prefixes are sent as they are.
      - A key starting with V(/) is rejected rather than silently stripped, since V(/a) and V(a) are two different
        keys on S3.
    type: str
    required: true
    aliases: [object]
  src:
    description:
      - Local file to upload with O(mode=put). Mutually exclusive with O(content).
    type: path
  content:
    description:
      - Text to upload with O(mode=put) instead of a file, encoded as UTF-8; meant for small objects such as
        manifests. It is read into memory.
    type: str
  dest:
    description:
      - Local file to write with O(mode=get). When it names an existing directory, the last part of O(key) is
        used as the file name inside it.
      - The directory must exist and be writable.
    type: path
  md5:
    description:
      - Expected MD5 of the object as 32 hexadecimal digits, for O(mode=get).
      - When omitted, the MD5 stored in the object's metadata at upload (C(x-amz-meta-md5)) is expected, and
        for an object without it the ETag of a single-part upload. An object with neither (a multipart upload by
        another tool) can only be fetched with O(verify=false).
    type: str
  verify:
    description:
      - With O(mode=get), whether an expected MD5 must exist. V(false) allows a download when none is known; the
        MD5 of the received bytes is still returned, and compared when one is known.
    type: bool
    default: true
  overwrite:
    description:
      - V(different) transfers only when the target differs from the source. For put, the remote object counts
        as the same when its stored MD5 and size equal the local file's and its ETag is consistent with the
        local bytes. For get, the local file counts as the same when its MD5 equals the expected MD5 and the
        object's size and ETag are consistent with the local bytes. Otherwise the object is transferred again.
      - V(always) transfers every time, so the module is no longer idempotent.
      - V(never) leaves an existing target alone without comparing anything.
    type: str
    default: different
    choices: [different, always, never]
  metadata:
    description:
      - User metadata to store with the object on put (keys without the C(x-amz-meta-) prefix).
      - The keys V(md5) and V(mt5crs-part-size) are reserved.
      - Only the bytes are compared for O(overwrite=different); changed metadata alone does not cause an upload.
    type: dict
  content_type:
    description:
      - Content-Type stored with the object on put.
    type: str
  file_mode:
    description:
      - Permissions of O(dest) after a get, as for the C(mode) option of M(ansible.builtin.file) (this module's
        O(mode) names the operation). Quote octal modes, for example V("0640").
      - When omitted, a new file gets the default permissions for the umask and an existing file keeps its own.
      - Applied also when the bytes were already up to date; a change of permissions alone reports C(changed).
    type: raw
  owner:
    description:
      - Name or ID of the user that owns O(dest) after a get.
    type: str
  group:
    description:
      - Name or ID of the group of O(dest) after a get.
    type: str
  multipart_md5:
    description:
      - How the whole-file MD5 of a multipart upload gets into the object's metadata, which S3 takes when the
        upload starts, before any part was read.
      - V(prehash) reads the file once before the upload to put the MD5 into CreateMultipartUpload, so the object
        appears complete with its MD5 at once. The upload pass still hashes every byte it sends; if that digest
        differs (the file changed in between), the metadata is corrected by a server-side copy as with V(copy).
      - V(copy) reads the file only once, during the upload, and then stores the MD5 by copying the object onto
        itself with new metadata. MinIO does such a copy as a metadata update; AWS S3 and moto rewrite the bytes
        server-side, which costs more than reading the file twice. Until the copy is done the object has no MD5.
      - Single-part uploads need neither, since their MD5 goes into the same PutObject request.
      - Not used when the object existed and was compared first, since the MD5 is known then.
    type: str
    default: prehash
    choices: [prehash, copy]
  max_bandwidth_mib:
    description:
      - Upper limit for the transfer rate in MiB per second; unlimited when omitted.
    type: float
notes:
  - Stale temporary files named C(.<dest name>.mt5crs-part-*) beside O(dest) are removed by every get that is not
    in check mode; two concurrent gets to the same O(dest) are therefore not supported.
  - For a multipart upload the whole-file MD5 is known only after the last part was read, while S3 takes user
    metadata when the upload starts; see O(multipart_md5) for the two ways this module resolves it. The
    server-side copy is guarded by C(CopySourceIfMatch) on the ETag of the parts sent, and is a single CopyObject
    up to 5 GiB and s3transfer's multipart copy above that.
  - The MD5 of a single-part upload is an ETag only for unencrypted objects; with SSE-KMS or SSE-C only the stored
    metadata MD5 or the O(md5) option can be trusted.
  - Versioned buckets are handled as unversioned ones; the newest version is read, written or deleted.
seealso:
  - module: mt5crs.gpu_orchestrator.minio_object_info
  - module: mt5crs.gpu_orchestrator.minio_bucket
  - module: amazon.aws.s3_object
'''

EXAMPLES = r'''
- name: Publish the dataset with its MD5 stored beside it
  mt5crs.gpu_orchestrator.minio_object:
    mode: put
    bucket: datasets
    key: eurusd/h1.parquet
    src: /srv/mt5crs/publish/h1.parquet
    endpoint_url: "{{ mt5crs_s3_endpoint_url }}"
    access_key: "{{ mt5crs_s3_access_key }}"
    secret_key: "{{ mt5crs_s3_secret_key }}"
  no_log: false

- name: Write the manifest next to it
  mt5crs.gpu_orchestrator.minio_object:
    mode: put
    bucket: datasets
    key: eurusd/h1.parquet.manifest.json
    content: "{{ manifest | to_nice_json }}"
    content_type: application/json

- name: Fetch the dataset, proven against the manifest's MD5
  mt5crs.gpu_orchestrator.minio_object:
    mode: get
    bucket: datasets
    key: eurusd/h1.parquet
    dest: /srv/mt5crs/data/h1.parquet
    md5: "{{ manifest.md5 }}"
    owner: trainer
    group: trainer
    file_mode: "0640"
  vars:
    ansible_python_interpreter: /opt/mt5crs/venv/bin/python

- name: Remove an old object
  mt5crs.gpu_orchestrator.minio_object:
    mode: delete
    bucket: datasets
    key: eurusd/old.parquet
'''

RETURN = r'''
bucket:
  description: Bucket name.
  returned: always
  type: str
  sample: datasets
key:
  description: Object key.
  returned: always
  type: str
  sample: eurusd/h1.parquet
md5:
  description:
    - MD5 of the bytes, as 32 hexadecimal digits. For put, the local bytes; for get, the verified bytes of O(dest);
      for delete, the stored MD5 of the deleted object. V(null) where not known (O(overwrite=never)).
  returned: always
  type: str
  sample: 9e107d9d372bb6826bd81d3542a419d6
size:
  description: Size of the object in bytes (for delete, of the deleted object; 0 when there was none).
  returned: always
  type: int
  sample: 104857600
etag:
  description: ETag the server reports for the object, without quotes.
  returned: always
  type: str
  sample: 2bb6b2b3e7e0e8d6f4ba7c3d7e4d5a11-13
multipart:
  description: Whether the object was stored by a multipart upload (its ETag ends in C(-<parts>)).
  returned: always
  type: bool
  sample: true
parts:
  description: Number of parts of the object (1 for a single-part object).
  returned: always
  type: int
  sample: 13
part_size:
  description: Part size in bytes recorded for a multipart object; V(null) for a single-part one.
  returned: always
  type: int
  sample: 8388608
bytes_transferred:
  description: Object bytes sent or received by this run; 0 when nothing was transferred.
  returned: always
  type: int
  sample: 104857600
seconds:
  description: Wall-clock seconds the module spent on the object, hashing included.
  returned: always
  type: float
  sample: 1.84
mib_per_s:
  description: RV(bytes_transferred) in MiB divided by RV(seconds); 0 when nothing was transferred.
  returned: always
  type: float
  sample: 54.3
md5_source:
  description:
    - Where the expected MD5 of a get came from, V(option), V(metadata) or V(etag); V(null) when none was known.
  returned: when O(mode=get)
  type: str
  sample: metadata
dest:
  description: Path of the local file written with O(mode=get).
  returned: when O(mode=get)
  type: str
  sample: /srv/mt5crs/data/h1.parquet
stale_temp_removed:
  description: Temporary files of interrupted earlier gets that were removed beside O(dest).
  returned: when O(mode=get)
  type: list
  elements: str
  sample: [/srv/mt5crs/data/.h1.parquet.mt5crs-part-3k2j1x]
msg:
  description: What the module did.
  returned: always
  type: str
  sample: uploaded 104857600 bytes to s3://datasets/eurusd/h1.parquet
'''

import glob
import io
import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.mt5crs.gpu_orchestrator.plugins.module_utils import _s3

MIB = _s3.MIB
TEMP_MARK = '.mt5crs-part-'
RESERVED_METADATA = (_s3.MD5_METADATA_KEY, _s3.PART_SIZE_METADATA_KEY)


def temp_prefix(dest):
    return '.%s%s' % (os.path.basename(dest), TEMP_MARK)


def stale_temp_files(dest):
    """Temporary files an interrupted get left beside dest."""
    pattern = os.path.join(glob.escape(os.path.dirname(dest)), glob.escape(temp_prefix(dest)) + '*')
    return sorted(path for path in glob.glob(pattern) if os.path.isfile(path) and not os.path.islink(path))


def resolve_dest(dest, key):
    """Absolute dest path (a directory gets the key's last part), checked for a writable parent."""
    dest = os.path.abspath(dest)
    if os.path.isdir(dest):
        name = key.rstrip('/').rsplit('/', 1)[-1]
        dest = os.path.join(dest, name)
    parent = os.path.dirname(dest)
    if not os.path.isdir(parent):
        raise _s3.S3LocalFileError('Failed to use dest: directory %s does not exist' % parent)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise _s3.S3LocalFileError('Failed to use dest: directory %s is not writable' % parent)
    if os.path.exists(dest) and not os.path.isfile(dest):
        raise _s3.S3LocalFileError('Failed to use dest: %s exists and is not a regular file' % dest)
    return dest


def check_metadata(metadata):
    metadata = dict((str(k), str(v)) for k, v in (metadata or {}).items())
    for name in metadata:
        if name.lower() in RESERVED_METADATA:
            raise _s3.S3InputError('Failed to use metadata: key %r is reserved for the module' % name)
    return metadata


def describe(head):
    """The result fields that describe a remote object (all None/0 when absent)."""
    if head is None:
        return dict(size=0, etag=None, multipart=False, parts=0, part_size=None)
    return dict(size=head['size'], etag=head['etag'], multipart=head['multipart'], parts=head['parts'],
                part_size=head['part_size'] if head['multipart'] else None)


def local_digests_for(path, head, client=None, bucket=None, key=None):
    """MD5 and size of path, plus its multipart ETag when head describes a multipart object."""
    part_size = None
    if head is not None and head['multipart']:
        part_size = head['part_size'] or first_part_size(client, bucket, key)
    return _s3.file_digests(path, part_size)


def needs_transfer(target_exists, overwrite, up_to_date):
    """Whether put or get must move bytes: always for a missing target, else as O(overwrite) says.

    up_to_date is called only for overwrite=different, when the digests it compares exist."""
    if not target_exists:
        return True
    if overwrite in ('never', 'always'):
        return overwrite == 'always'
    return not up_to_date()


def first_part_size(client, bucket, key):
    """Size of part 1 of a multipart object (HEAD with partNumber), or None when the server cannot tell."""
    if client is None:
        return None
    try:
        resp = client.head_object(Bucket=bucket, Key=key, PartNumber=1)
    except Exception:
        return None
    if not resp.get('PartsCount'):
        return None
    return int(resp.get('ContentLength') or 0) or None


class Runner:
    """One module run: holds the client, the params and the timing."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.bucket = self.params['bucket']
        self.key = _s3.normalize_key(self.params['key'])
        self.url = 's3://%s/%s' % (self.bucket, self.key)
        self.endpoint = self.params.get('endpoint_url')
        self.secret = self.params.get('secret_key')
        self.client = _s3.make_client(self.params)
        self.started = time.monotonic()

    def head(self):
        return _s3.head_object(self.client, self.bucket, self.key, endpoint=self.endpoint, secret=self.secret)

    def error(self, exc, action):
        return _s3.translate_error(exc, '%s %s' % (action, self.url), self.endpoint, self.secret)

    def transfer_config(self):
        config = _s3.transfer_config(self.params)
        if self.params.get('max_bandwidth_mib'):
            config.max_bandwidth = int(self.params['max_bandwidth_mib'] * MIB)
        return config

    def finish(self, changed, md5, head, moved, msg, **extra):
        seconds = round(time.monotonic() - self.started, 3)
        result = dict(changed=changed, bucket=self.bucket, key=self.key, md5=md5, bytes_transferred=moved,
                      seconds=seconds, mib_per_s=round(moved / MIB / seconds, 2) if moved and seconds else 0.0,
                      msg=msg)
        result.update(describe(head))
        result.update((name, value) for name, value in extra.items() if name != 'diff' or value is not None)
        return result

    # -- put ----------------------------------------------------------------

    def put(self):
        params = self.params
        metadata = check_metadata(params.get('metadata'))
        if params.get('content') is not None:
            payload = params['content'].encode('utf-8')
            size, src = len(payload), None
        else:
            src = params['src']
            if not os.path.isfile(src):
                raise _s3.S3LocalFileError('Failed to read src: %s does not exist or is not a regular file' % src)
            if not os.access(src, os.R_OK):
                raise _s3.S3LocalFileError('Failed to read src: %s is not readable' % src)
            payload, size = None, os.path.getsize(src)

        head = self.head()
        local = None
        if head is not None and params['overwrite'] == 'different' or self.module._diff:
            local = self._local_source_digests(src, payload, head)

        changed = needs_transfer(head is not None, params['overwrite'], lambda: (
            head['stored_md5'] == local['md5']
            and _s3.remote_matches_local(head, local['md5'], local['size'], local['etag'])))

        diff = None
        if self.module._diff:
            diff = dict(before=dict(md5=head['stored_md5'], size=head['size']) if head else {},
                        after=dict(md5=local['md5'], size=local['size']))

        if not changed or self.module.check_mode:
            md5 = local['md5'] if local else (head['stored_md5'] if head else None)
            if not changed:
                md5 = head['stored_md5'] or md5
            msg = ('%s is up to date' % self.url) if not changed else ('would upload %d bytes to %s' % (size, self.url))
            return self.finish(changed, md5, head, 0, msg, diff=diff)

        known_md5 = local['md5'] if local else None
        md5, moved = self._upload(src, payload, size, metadata, known_md5)
        after = self._verify_upload(md5, size)
        return self.finish(True, md5, after, moved, 'uploaded %d bytes to %s' % (size, self.url), diff=diff)

    def _local_source_digests(self, src, payload, head):
        if src is None:
            part_size = None
            if head is not None and head['multipart']:
                part_size = head['part_size']
            tmp = io.BytesIO(payload)
            digest = _s3.HashingReader(tmp)
            digest.read()
            etag = None
            if part_size:
                parts = [_s3.body_md5(payload[i:i + part_size]) for i in range(0, max(len(payload), 1), part_size)]
                etag = _s3.multipart_etag(parts)
            return dict(md5=digest.hexdigest(), size=len(payload), etag=etag)
        return local_digests_for(src, head, self.client, self.bucket, self.key)

    def _upload(self, src, payload, size, metadata, known_md5):
        """Upload once, hashing in the same pass; return (md5, bytes moved)."""
        config = self.transfer_config()
        multipart = size >= config.multipart_threshold
        part_size = _s3.adjusted_part_size(config.multipart_chunksize, size)
        extra = {'Metadata': dict(metadata)}
        if multipart:
            extra['Metadata'][_s3.PART_SIZE_METADATA_KEY] = str(part_size)
            if not known_md5 and self.params['multipart_md5'] == 'prehash':
                known_md5 = (_s3.new_md5(payload).hexdigest() if src is None else _s3.file_digests(src)['md5'])
            if known_md5:
                extra['Metadata'][_s3.MD5_METADATA_KEY] = known_md5
        if self.params.get('content_type'):
            extra['ContentType'] = self.params['content_type']

        recorder = _s3.ContentMD5Recorder(store_md5_metadata=True)
        recorder.register(self.client)
        counter = _s3.ProgressCounter()
        handle = io.BytesIO(payload) if src is None else open(src, 'rb')
        reader = _s3.HashingReader(handle)
        try:
            with _s3.transfer_manager(self.client, config) as manager:
                manager.upload(reader, self.bucket, self.key, extra_args=extra, subscribers=[counter]).result()
        except Exception as exc:
            raise self.error(exc, 'upload to')
        finally:
            handle.close()

        if not reader.complete or reader.hashed_bytes != size:
            raise _s3.S3IntegrityError('Failed to hash src in the upload pass: read %d of %d bytes in order; the file '
                                       'changed while it was uploaded: %s' % (reader.hashed_bytes, size, src))
        md5 = reader.hexdigest()
        sent_etag = recorder.expected_etag()
        if multipart and recorder.parts and md5 != known_md5:
            self._store_md5(md5, part_size, metadata, sent_etag, size)
        self._sent_etag = sent_etag
        self._multipart_sent = bool(recorder.parts)
        return md5, counter.bytes

    def _store_md5(self, md5, part_size, metadata, sent_etag, size):
        """Record the whole-file MD5 in the metadata by copying the object onto itself."""
        new_metadata = dict(metadata)
        new_metadata[_s3.MD5_METADATA_KEY] = md5
        new_metadata[_s3.PART_SIZE_METADATA_KEY] = str(part_size)
        extra = dict(Metadata=new_metadata, MetadataDirective='REPLACE', CopySourceIfMatch='"%s"' % sent_etag)
        if self.params.get('content_type'):
            extra['ContentType'] = self.params['content_type']
        source = {'Bucket': self.bucket, 'Key': self.key}
        try:
            if size <= _s3.MAX_SINGLE_COPY_SIZE:
                self.client.copy_object(Bucket=self.bucket, Key=self.key, CopySource=source, **extra)
            else:
                with _s3.transfer_manager(self.client, self.transfer_config()) as manager:
                    manager.copy(source, self.bucket, self.key, extra_args=extra).result()
        except Exception as exc:
            raise self.error(exc, 'store the MD5 metadata of')

    def _verify_upload(self, md5, size):
        after = self.head()
        if after is None:
            raise _s3.S3IntegrityError('Failed to verify upload: %s is missing after the upload' % self.url)
        problems = []
        if after['size'] != size:
            problems.append('size %d, sent %d' % (after['size'], size))
        if after['stored_md5'] != md5:
            problems.append('stored md5 %s, sent %s' % (after['stored_md5'], md5))
        etag_ok = after['etag_normalized'] == self._sent_etag or (not after['multipart'] and after['etag'] == md5)
        if not etag_ok:
            problems.append('etag %s, expected %s for the bytes sent' % (after['etag'], self._sent_etag))
        if problems:
            raise _s3.S3IntegrityError('Failed to verify upload of %s: server reports %s'
                                       % (self.url, '; '.join(problems)), md5=md5)
        return after

    # -- get ----------------------------------------------------------------

    def get(self):
        params = self.params
        dest = resolve_dest(params['dest'], self.key)
        stale = stale_temp_files(dest)
        head = self.head()
        if head is None:
            raise _s3.S3NotFoundError('Failed to find object: %s does not exist' % self.url)
        expected, source = _s3.expected_md5(head, params.get('md5'))
        if expected is None and params['verify']:
            raise _s3.S3IntegrityError(
                'Failed to find an expected MD5 for %s: no md5 option, no stored md5 metadata, and ETag %s is a '
                'multipart ETag; pass md5 or set verify to false' % (self.url, head['etag']))

        local = None
        if os.path.isfile(dest) and params['overwrite'] == 'different' or (os.path.isfile(dest) and self.module._diff):
            local = local_digests_for(dest, head, self.client, self.bucket, self.key)

        changed = needs_transfer(os.path.exists(dest), params['overwrite'], lambda: (
            (expected is None or local['md5'] == expected)
            and _s3.remote_matches_local(head, local['md5'], local['size'], local['etag'])))

        diff = None
        if self.module._diff:
            diff = dict(before=dict(md5=local['md5'], size=local['size']) if local else {},
                        after=dict(md5=expected, size=head['size']))

        if not changed or self.module.check_mode:
            md5 = local['md5'] if local else None
            msg = ('%s is up to date with %s' % (dest, self.url)) if not changed else (
                'would download %d bytes from %s to %s' % (head['size'], self.url, dest))
            result = self.finish(changed, md5, head, 0, msg, dest=dest, md5_source=source, diff=diff,
                                 stale_temp_removed=[])
            if not self.module.check_mode:
                for path in stale:
                    _s3.safe_unlink(path)
                result['stale_temp_removed'] = stale
            if os.path.isfile(dest):
                # set_fs_attributes_if_different only predicts in check mode.
                result['changed'] = self._apply_attributes(dest, changed)
            return result

        for path in stale:
            _s3.safe_unlink(path)
        md5, moved, replaced = self._download(dest, head, expected, source, local)
        result = self.finish(replaced, md5, head, moved,
                             ('downloaded %d bytes from %s to %s' % (head['size'], self.url, dest)) if replaced else
                             ('%s already held the verified bytes of %s' % (dest, self.url)),
                             dest=dest, md5_source=source, diff=diff, stale_temp_removed=stale)
        result['changed'] = self._apply_attributes(dest, replaced)
        return result

    def _download(self, dest, head, expected, source, local):
        """Download into a temp file beside dest, verify, move into place; return (md5, moved, replaced)."""
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(dest), dir=os.path.dirname(dest))
        try:
            counter = _s3.ProgressCounter(size=head['size'], etag='"%s"' % head['etag'])
            with os.fdopen(fd, 'wb') as handle:
                writer = _s3.HashingWriter(handle)
                try:
                    with _s3.transfer_manager(self.client, self.transfer_config()) as manager:
                        manager.download(self.bucket, self.key, writer, subscribers=[counter]).result()
                except Exception as exc:
                    raise self.error(exc, 'download')
                handle.flush()
                os.fsync(handle.fileno())

            got = writer.hexdigest()
            if writer.size != head['size']:
                raise _s3.S3IntegrityError('Failed to verify download of %s: received %d bytes, the object has %d; '
                                           '%s left untouched' % (self.url, writer.size, head['size'], dest))
            if expected is not None and got != expected:
                raise _s3.S3IntegrityError(
                    'Failed to verify download of %s: MD5 of the received bytes is %s, expected %s (from %s); '
                    '%s left untouched' % (self.url, got, expected, source, dest), md5=got, expected_md5=expected)

            if local is not None and local['md5'] == got and local['size'] == writer.size:
                return got, counter.bytes, False
            self.module.atomic_move(tmp, dest, unsafe_writes=False)
            return got, counter.bytes, True
        finally:
            _s3.safe_unlink(tmp)

    def _apply_attributes(self, dest, changed):
        # This module's 'mode' is the operation, so the permissions come from 'file_mode'.
        file_args = self.module.load_file_common_arguments(
            dict(mode=self.params.get('file_mode'), owner=self.params.get('owner'), group=self.params.get('group')),
            path=dest)
        return self.module.set_fs_attributes_if_different(file_args, changed)

    # -- delete -------------------------------------------------------------

    def delete(self):
        head = self.head()
        diff = None
        if self.module._diff:
            diff = dict(before=dict(md5=head['stored_md5'], size=head['size']) if head else {}, after={})
        md5 = head['stored_md5'] if head else None
        if head is None:
            return self.finish(False, None, None, 0, '%s does not exist' % self.url, diff=diff)
        if not self.module.check_mode:
            try:
                self.client.delete_object(Bucket=self.bucket, Key=self.key)
            except Exception as exc:
                raise self.error(exc, 'delete')
        verb = 'would delete' if self.module.check_mode else 'deleted'
        return self.finish(True, md5, head, 0, '%s %s' % (verb, self.url), diff=diff)


def argument_spec():
    spec = dict(
        mode=dict(type='str', required=True, choices=['put', 'get', 'delete']),
        bucket=dict(type='str', required=True),
        key=dict(type='str', required=True, aliases=['object'], no_log=False),
        src=dict(type='path'),
        content=dict(type='str'),
        dest=dict(type='path'),
        md5=dict(type='str'),
        verify=dict(type='bool', default=True),
        overwrite=dict(type='str', default='different', choices=['different', 'always', 'never']),
        metadata=dict(type='dict'),
        content_type=dict(type='str'),
        max_bandwidth_mib=dict(type='float'),
        multipart_md5=dict(type='str', default='prehash', choices=['prehash', 'copy']),
        file_mode=dict(type='raw'),
        owner=dict(type='str'),
        group=dict(type='str'),
    )
    spec.update(_s3.connection_argument_spec())
    spec.update(_s3.transfer_argument_spec())
    return spec


def build_module():
    return AnsibleModule(
        argument_spec=argument_spec(),
        required_if=[
            ('mode', 'put', ('src', 'content'), True),
            ('mode', 'get', ('dest',)),
        ],
        mutually_exclusive=[('src', 'content')],
        supports_check_mode=True,
    )


def main():
    module = build_module()
    if not _s3.HAS_BOTO3:
        module.fail_json(msg=missing_required_lib('boto3'), exception=str(_s3.BOTO3_IMPORT_ERROR))

    partial = dict(changed=False, bucket=module.params['bucket'], key=module.params['key'])
    try:
        runner = Runner(module)
        result = getattr(runner, module.params['mode'])()
    except _s3.S3Error as exc:
        module.fail_json(msg=str(exc), **dict(partial, **exc.context))
    except Exception as exc:
        err = _s3.translate_error(exc, '%s s3://%s/%s' % (module.params['mode'], module.params['bucket'],
                                                          module.params['key']),
                                  module.params.get('endpoint_url'), module.params.get('secret_key'))
        module.fail_json(msg=str(err), **partial)
    module.exit_json(**result)


if __name__ == '__main__':
    main()

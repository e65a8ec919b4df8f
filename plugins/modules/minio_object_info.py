#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: minio_object_info
short_description: Describe one object, or list objects under a prefix, on MinIO or another S3 server
version_added: 0.1.0
description:
  - With O(key), reads one object's size, stored MD5, ETag, last modification time and user metadata, and with
    O(return_content=true) its body as text.
  - Without O(key), lists the objects under O(prefix) (paged through ListObjectsV2) with size and MD5.
  - Read-only; it never changes the bucket.
author:
  - mt5crs research platform team (@mt5crs)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - mt5crs.gpu_orchestrator.s3
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  bucket:
    description:
      - Name of the bucket. A missing bucket is an error.
    type: str
    required: true
  key:
    description:
      - Key of the object to describe. A missing object is not an error; RV(exists) is then V(false).
      - A key starting with V(/) is rejected, as in M(mt5crs.gpu_orchestrator.minio_object).
      - Mutually exclusive with O(prefix).
    type: str
    aliases: [object]
  prefix:
    description:
      - List the objects whose keys start with this prefix; the empty string lists the whole bucket.
      - Used when O(key) is not given.
    type: str
    default: ''
  max_keys:
    description:
      - Stop a listing after this many objects; RV(truncated) then says whether more exist.
    type: int
    default: 1000
  head_multipart:
    description:
      - In a listing, the MD5 of a single-part object is its ETag, which the listing already carries. A multipart
        object's ETag is not an MD5, so with V(true) the module reads its stored MD5 with one HEAD request per
        multipart object. V(false) skips those requests and reports V(null) for them.
    type: bool
    default: true
  return_content:
    description:
      - With O(key), also return the object's body as text in RV(content) (decoded as UTF-8, invalid bytes
        replaced). Meant for manifests and other small text objects.
    type: bool
    default: false
  max_content_bytes:
    description:
      - Largest object O(return_content=true) reads; a larger object fails the task rather than fill memory.
    type: int
    default: 1048576
notes:
  - The MD5 of a single-part object taken from its ETag is valid for unencrypted objects only.
seealso:
  - module: mt5crs.gpu_orchestrator.minio_object
'''

EXAMPLES = r'''
- name: Read the dataset manifest
  mt5crs.gpu_orchestrator.minio_object_info:
    bucket: datasets
    key: eurusd/h1.parquet.manifest.json
    return_content: true
  register: manifest_object

- name: Use the manifest
  ansible.builtin.set_fact:
    manifest: "{{ manifest_object.content | from_json }}"

- name: List everything under a prefix
  mt5crs.gpu_orchestrator.minio_object_info:
    bucket: datasets
    prefix: eurusd/
  register: listing
'''

RETURN = r'''
bucket:
  description: Bucket name.
  returned: always
  type: str
  sample: datasets
exists:
  description: Whether O(key) exists.
  returned: when O(key) is given
  type: bool
  sample: true
object:
  description: The object O(key); empty when it does not exist.
  returned: when O(key) is given
  type: dict
  contains:
    key:
      description: Object key.
      type: str
      sample: eurusd/h1.parquet
    size:
      description: Size in bytes.
      type: int
      sample: 104857600
    md5:
      description: MD5 stored in the metadata at upload, else the ETag of a single-part object, else V(null).
      type: str
      sample: 9e107d9d372bb6826bd81d3542a419d6
    md5_source:
      description: V(metadata), V(etag) or V(null).
      type: str
      sample: metadata
    stored_md5:
      description: MD5 stored in the metadata (C(x-amz-meta-md5)), or V(null).
      type: str
      sample: 9e107d9d372bb6826bd81d3542a419d6
    etag:
      description: ETag without quotes.
      type: str
      sample: 2bb6b2b3e7e0e8d6f4ba7c3d7e4d5a11-13
    multipart:
      description: Whether the ETag is a multipart ETag.
      type: bool
      sample: true
    parts:
      description: Number of parts (1 for a single-part object).
      type: int
      sample: 13
    part_size:
      description: Part size recorded at upload by M(mt5crs.gpu_orchestrator.minio_object), or V(null).
      type: int
      sample: 8388608
    last_modified:
      description: Last modification time, ISO 8601.
      type: str
      sample: '2026-01-05T10:00:00+00:00'
    content_type:
      description: Content-Type.
      type: str
      sample: application/octet-stream
    metadata:
      description: User metadata (keys without C(x-amz-meta-)).
      type: dict
      sample: {md5: 9e107d9d372bb6826bd81d3542a419d6, mt5crs-part-size: '8388608'}
content:
  description: Body of O(key) as text.
  returned: when O(return_content=true) and the object exists
  type: str
  sample: '{"md5": "9e107d9d372bb6826bd81d3542a419d6", "size": 104857600}'
objects:
  description: Objects under O(prefix), in key order, at most O(max_keys).
  returned: when O(key) is not given
  type: list
  elements: dict
  contains:
    key:
      description: Object key.
      type: str
    size:
      description: Size in bytes.
      type: int
    md5:
      description: ETag of a single-part object, stored MD5 of a multipart one (with O(head_multipart)), else V(null).
      type: str
    md5_source:
      description: V(etag), V(metadata) or V(null).
      type: str
    etag:
      description: ETag without quotes.
      type: str
    multipart:
      description: Whether the ETag is a multipart ETag.
      type: bool
    last_modified:
      description: Last modification time, ISO 8601.
      type: str
  sample: [{key: eurusd/h1.parquet, size: 104857600, md5: 9e107d9d372bb6826bd81d3542a419d6, md5_source: metadata,
            etag: 2bb6b2b3e7e0e8d6f4ba7c3d7e4d5a11-13, multipart: true, last_modified: '2026-01-05T10:00:00+00:00'}]
count:
  description: Number of entries in RV(objects).
  returned: when O(key) is not given
  type: int
  sample: 2
truncated:
  description: Whether more objects exist under O(prefix) than O(max_keys) allowed to list.
  returned: when O(key) is not given
  type: bool
  sample: false
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.mt5crs.gpu_orchestrator.plugins.module_utils import _s3


def describe_object(key, head):
    md5, source = _s3.expected_md5(head)
    return dict(key=key, size=head['size'], md5=md5, md5_source=source, stored_md5=head['stored_md5'],
                etag=head['etag'], multipart=head['multipart'], parts=head['parts'],
                part_size=head['part_size'] if head['multipart'] else None, last_modified=head['last_modified'],
                content_type=head['content_type'], metadata=head['metadata'])


def read_content(client, bucket, key, head, limit):
    if head['size'] > limit:
        raise _s3.S3InputError('Failed to return content of s3://%s/%s: %d bytes, more than max_content_bytes %d'
                               % (bucket, key, head['size'], limit))
    resp = client.get_object(Bucket=bucket, Key=key, IfMatch='"%s"' % head['etag'])
    body = resp['Body'].read(limit + 1)
    if len(body) > limit:
        raise _s3.S3InputError('Failed to return content of s3://%s/%s: more than max_content_bytes %d'
                               % (bucket, key, limit))
    return body.decode('utf-8', errors='replace')


def list_entry(client, bucket, item, head_multipart):
    etag = (item.get('ETag') or '').strip('"')
    digest, parts = _s3.parse_etag(etag)
    md5, source = None, None
    if parts is None and digest and len(digest) == 32:
        md5, source = digest, 'etag'
    elif head_multipart:
        head = _s3.head_object(client, bucket, item['Key'])
        if head is not None and head['stored_md5']:
            md5, source = head['stored_md5'], 'metadata'
    modified = item.get('LastModified')
    return dict(key=item['Key'], size=int(item.get('Size') or 0), md5=md5, md5_source=source, etag=etag,
                multipart=parts is not None, last_modified=modified.isoformat() if modified is not None else None)


def list_objects(client, bucket, prefix, max_keys, head_multipart):
    """Return (entries, truncated) for up to max_keys objects under prefix."""
    entries = []
    paginator = client.get_paginator('list_objects_v2')
    pages = paginator.paginate(Bucket=bucket, Prefix=prefix, PaginationConfig={'PageSize': min(1000, max_keys + 1)})
    for page in pages:
        for item in page.get('Contents') or []:
            if len(entries) == max_keys:
                return entries, True
            entries.append(list_entry(client, bucket, item, head_multipart))
    return entries, False


def main():
    argument_spec = dict(
        bucket=dict(type='str', required=True),
        key=dict(type='str', aliases=['object'], no_log=False),
        prefix=dict(type='str', default=''),
        max_keys=dict(type='int', default=1000, no_log=False),
        head_multipart=dict(type='bool', default=True),
        return_content=dict(type='bool', default=False),
        max_content_bytes=dict(type='int', default=1024 * 1024),
    )
    argument_spec.update(_s3.connection_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not _s3.HAS_BOTO3:
        module.fail_json(msg=missing_required_lib('boto3'), exception=str(_s3.BOTO3_IMPORT_ERROR))

    params = module.params
    bucket = params['bucket']
    endpoint, secret = params.get('endpoint_url'), params.get('secret_key')
    result = dict(changed=False, bucket=bucket)
    try:
        client = _s3.make_client(params)
        if params.get('key') is not None:
            key = _s3.normalize_key(params['key'])
            head = _s3.head_object(client, bucket, key, endpoint=endpoint, secret=secret)
            result.update(exists=head is not None, object=describe_object(key, head) if head else {})
            if head is not None and params['return_content']:
                result['content'] = read_content(client, bucket, key, head, params['max_content_bytes'])
        else:
            _s3.check_bucket(client, bucket, endpoint, secret)
            entries, truncated = list_objects(client, bucket, params['prefix'], max(0, params['max_keys']),
                                              params['head_multipart'])
            result.update(objects=entries, count=len(entries), truncated=truncated)
    except _s3.S3Error as exc:
        module.fail_json(msg=str(exc), **dict(result, **exc.context))
    except Exception as exc:
        err = _s3.translate_error(exc, 'read s3://%s/%s' % (bucket, params.get('key') or params['prefix']),
                                  endpoint, secret)
        module.fail_json(msg=str(err), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()

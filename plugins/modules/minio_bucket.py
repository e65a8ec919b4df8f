#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: minio_bucket
short_description: Create or remove a bucket on MinIO or another S3 server
version_added: 0.1.0
description:
  - Makes sure a bucket exists (V(present)) or does not exist (V(absent)).
  - Removing a bucket that still holds objects is refused unless O(force=true).
author:
  - mt5crs research platform team (@mt5crs)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - mt5crs.gpu_orchestrator.s3
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows whether the bucket exists before and after.
  platform:
    platforms: posix
options:
  name:
    description:
      - Name of the bucket (3 to 63 lower-case letters, digits, dots and hyphens).
    type: str
    required: true
    aliases: [bucket]
  state:
    description:
      - V(present) creates the bucket when it is missing; V(absent) removes it when it exists.
    type: str
    default: present
    choices: [present, absent]
  force:
    description:
      - With O(state=absent), delete every object in the bucket first. Without it, a bucket that is not empty is
        left alone and the task fails, naming the number of objects found.
      - Only current object versions are deleted; a versioned bucket with older versions cannot be removed by this
        module.
    type: bool
    default: false
seealso:
  - module: mt5crs.gpu_orchestrator.minio_object
'''

EXAMPLES = r'''
- name: Make sure the dataset bucket exists
  mt5crs.gpu_orchestrator.minio_bucket:
    name: datasets
    state: present
    endpoint_url: "{{ mt5crs_s3_endpoint_url }}"
    access_key: "{{ mt5crs_s3_access_key }}"
    secret_key: "{{ mt5crs_s3_secret_key }}"

- name: Remove a scratch bucket and everything in it
  mt5crs.gpu_orchestrator.minio_bucket:
    name: scratch
    state: absent
    force: true
'''

RETURN = r'''
name:
  description: Bucket name.
  returned: always
  type: str
  sample: datasets
state:
  description: State of the bucket after the task (predicted in check mode).
  returned: always
  type: str
  sample: present
objects_deleted:
  description: Number of objects deleted with O(force=true) (predicted in check mode).
  returned: always
  type: int
  sample: 0
msg:
  description: What the module did.
  returned: always
  type: str
  sample: created bucket datasets
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.mt5crs.gpu_orchestrator.plugins.module_utils import _s3


def bucket_exists(client, name, endpoint, secret):
    try:
        _s3.check_bucket(client, name, endpoint, secret)
    except _s3.S3NotFoundError:
        return False
    return True


def object_keys(client, name):
    """Every current object key in the bucket."""
    keys = []
    for page in client.get_paginator('list_objects_v2').paginate(Bucket=name):
        keys.extend(item['Key'] for item in page.get('Contents') or [])
    return keys


def delete_keys(client, name, keys):
    """Delete keys in batches of 1000; raise S3Error naming the first key that failed."""
    for start in range(0, len(keys), 1000):
        batch = [{'Key': key} for key in keys[start:start + 1000]]
        resp = client.delete_objects(Bucket=name, Delete={'Objects': batch, 'Quiet': True})
        errors = resp.get('Errors') or []
        if errors:
            first = errors[0]
            raise _s3.S3Error('Failed to delete objects in bucket %s: %d failed, first %r: %s'
                              % (name, len(errors), first.get('Key'), first.get('Message') or first.get('Code')))


def main():
    argument_spec = dict(
        name=dict(type='str', required=True, aliases=['bucket']),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        force=dict(type='bool', default=False),
    )
    argument_spec.update(_s3.connection_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not _s3.HAS_BOTO3:
        module.fail_json(msg=missing_required_lib('boto3'), exception=str(_s3.BOTO3_IMPORT_ERROR))

    params = module.params
    name, state = params['name'], params['state']
    endpoint, secret = params.get('endpoint_url'), params.get('secret_key')
    result = dict(changed=False, name=name, state=state, objects_deleted=0)
    try:
        client = _s3.make_client(params)
        exists = bucket_exists(client, name, endpoint, secret)
        result['changed'] = exists != (state == 'present')
        if module._diff:
            result['diff'] = dict(before=dict(exists=exists), after=dict(exists=state == 'present'))

        if state == 'present':
            result['msg'] = 'bucket %s exists' % name
            if not exists:
                result['msg'] = 'created bucket %s' % name
                if not module.check_mode:
                    region = params.get('region') or _s3.DEFAULT_REGION
                    kwargs = {}
                    if region != 'us-east-1':
                        kwargs['CreateBucketConfiguration'] = {'LocationConstraint': region}
                    client.create_bucket(Bucket=name, **kwargs)
        elif exists:
            keys = object_keys(client, name)
            if keys and not params['force']:
                result['changed'] = False
                raise _s3.S3Error('Failed to remove bucket %s: it holds %d objects (first %r); set force to delete '
                                  'them' % (name, len(keys), keys[0]))
            result.update(objects_deleted=len(keys), msg='removed bucket %s' % name)
            if not module.check_mode:
                delete_keys(client, name, keys)
                client.delete_bucket(Bucket=name)
        else:
            result['msg'] = 'bucket %s does not exist' % name
    except _s3.S3Error as exc:
        module.fail_json(msg=str(exc), **dict(result, **exc.context))
    except Exception as exc:
        err = _s3.translate_error(exc, 'make bucket %s %s' % (name, state), endpoint, secret)
        module.fail_json(msg=str(err), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()

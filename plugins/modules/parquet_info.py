#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: parquet_info
short_description: Validate a Parquet dataset and report its rows, columns and schema
version_added: 0.1.0
description:
  - Reads the footer of a Parquet file with pyarrow and reports the row count, the columns, the
    schema and a schema fingerprint that does not depend on file-level metadata.
  - Optionally checks the file against expectations (row count, columns, fingerprint) and fails,
    listing every unmet expectation at once, when the file does not meet them.
  - Used on the INF host before a dataset is published and on GPU hosts after it was fetched.
author:
  - mt5crs.gpu_orchestrator contributors (@mt5crs)
requirements:
  - pyarrow on the Python interpreter that runs the module (the GPU hosts' venv has it).
attributes:
  check_mode:
    description: Can run in check mode and report whether it would change something, without changing it.
    support: full
  diff_mode:
    description: Reports the change as a diff when run with C(--diff).
    support: none
options:
  path:
    description:
      - Path of the Parquet file on the target.
    type: path
    required: true
  expect_rows:
    description:
      - Row count the file must have.
    type: int
  min_rows:
    description:
      - Smallest row count accepted.
    type: int
    default: 1
  expect_columns:
    description:
      - Column names the file must have, in this order.
    type: list
    elements: str
  required_columns:
    description:
      - Column names that must be present, in any order.
    type: list
    elements: str
    default: []
  expect_schema_fingerprint:
    description:
      - Schema fingerprint (as returned in RV(schema_fingerprint)) that the file must have.
    type: str
  checksum:
    description:
      - Also compute the file's MD5 and SHA-256.
    type: bool
    default: false
notes:
  - Only the footer is read for the counts and the schema; O(checksum=true) reads the whole file.
  - The fingerprint is the SHA-256 of one C(name:type) line per column, so it ignores key-value
    metadata, compression and row-group layout.
"""

EXAMPLES = r"""
- name: Validate the training dataset before it is published
  mt5crs.gpu_orchestrator.parquet_info:
    path: /srv/datasets/eurusd_h1_features.parquet
    required_columns: [label]
    min_rows: 1000
  register: dataset

- name: Re-check the fetched copy against the manifest
  mt5crs.gpu_orchestrator.parquet_info:
    path: /srv/mt5crs/data/eurusd_h1_features.parquet
    expect_rows: "{{ manifest.rows }}"
    expect_schema_fingerprint: "{{ manifest.schema_fingerprint }}"
"""

RETURN = r"""
path:
  description: Path of the file that was read.
  returned: always
  type: str
  sample: /srv/mt5crs/data/eurusd_h1_features.parquet
rows:
  description: Number of rows.
  returned: success
  type: int
  sample: 4980
columns:
  description: Column names in file order.
  returned: success
  type: list
  elements: str
  sample: [time, ret_1, ret_5, range_hl, vol_10, dist_sma_20, label]
schema:
  description: One entry per column with its Arrow type.
  returned: success
  type: list
  elements: dict
  sample: [{name: ret_1, type: double}]
schema_fingerprint:
  description: SHA-256 over the columns' names and types.
  returned: success
  type: str
  sample: 3f1c0d0b5e0f9a7d0c8b7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b
row_groups:
  description: Number of row groups.
  returned: success
  type: int
  sample: 1
size:
  description: File size in bytes.
  returned: success
  type: int
  sample: 281733
md5:
  description: MD5 of the file, with O(checksum=true).
  returned: when checksum is true
  type: str
  sample: 0f343b0931126a20f133d67c2b018a3b
sha256:
  description: SHA-256 of the file, with O(checksum=true).
  returned: when checksum is true
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
unmet:
  description: Expectations the file did not meet, each naming what was found and what was expected.
  returned: always
  type: list
  elements: str
  sample: ["rows: found 4979, expected 4980"]
"""

import hashlib
import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import pyarrow.parquet as pq
    HAS_PYARROW = True
    PYARROW_IMPORT_ERROR = None
except ImportError:
    HAS_PYARROW = False
    PYARROW_IMPORT_ERROR = traceback.format_exc()


def schema_fingerprint(schema):
    """SHA-256 over one 'name:type' line per field."""
    text = '\n'.join('%s:%s' % (field.name, field.type) for field in schema)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def file_digests(path, chunk_size=1024 * 1024):
    md5 = hashlib.md5()
    sha = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(chunk_size), b''):
            md5.update(block)
            sha.update(block)
    return md5.hexdigest(), sha.hexdigest()


def describe(path):
    """Read the Parquet footer of path and describe the file."""
    meta = pq.ParquetFile(path)
    schema = meta.schema_arrow
    return {
        'rows': meta.metadata.num_rows,
        'columns': list(schema.names),
        'schema': [{'name': f.name, 'type': str(f.type)} for f in schema],
        'schema_fingerprint': schema_fingerprint(schema),
        'row_groups': meta.metadata.num_row_groups,
        'size': os.path.getsize(path),
    }


def unmet_expectations(info, params):
    """Return a list of 'what: found X, expected Y' strings."""
    unmet = []
    if params.get('expect_rows') is not None and info['rows'] != params['expect_rows']:
        unmet.append('rows: found %d, expected %d' % (info['rows'], params['expect_rows']))
    if params.get('min_rows') is not None and info['rows'] < params['min_rows']:
        unmet.append('rows: found %d, expected at least %d' % (info['rows'], params['min_rows']))
    if params.get('expect_columns') is not None and info['columns'] != list(params['expect_columns']):
        unmet.append('columns: found %s, expected %s' % (info['columns'], list(params['expect_columns'])))
    missing = [c for c in params.get('required_columns') or [] if c not in info['columns']]
    if missing:
        unmet.append('columns: missing %s, found %s' % (missing, info['columns']))
    fingerprint = params.get('expect_schema_fingerprint')
    if fingerprint and info['schema_fingerprint'] != fingerprint:
        unmet.append('schema fingerprint: found %s, expected %s (schema now %s)'
                     % (info['schema_fingerprint'], fingerprint,
                        ', '.join('%s:%s' % (c['name'], c['type']) for c in info['schema'])))
    return unmet


def build_module():
    return AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            expect_rows=dict(type='int'),
            min_rows=dict(type='int', default=1),
            expect_columns=dict(type='list', elements='str'),
            required_columns=dict(type='list', elements='str', default=[]),
            expect_schema_fingerprint=dict(type='str'),
            checksum=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )


def main():
    module = build_module()
    path = module.params['path']
    result = dict(changed=False, path=path, unmet=[])

    if not HAS_PYARROW:
        module.fail_json(msg=missing_required_lib('pyarrow'), exception=PYARROW_IMPORT_ERROR, **result)
    if not os.path.isfile(path):
        module.fail_json(msg='Parquet file not found: %s' % path, **result)

    # Read the footer
    try:
        result.update(describe(path))
    except Exception as exc:
        module.fail_json(msg='Failed to read %s as Parquet: %s (expected a Parquet file with a valid footer)'
                         % (path, exc), **result)

    if module.params['checksum']:
        result['md5'], result['sha256'] = file_digests(path)

    # Compare with the expectations
    result['unmet'] = unmet_expectations(result, module.params)
    if result['unmet']:
        module.fail_json(msg='Dataset %s does not meet expectations: %s' % (path, '; '.join(result['unmet'])),
                         **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()

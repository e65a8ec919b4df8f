# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""parquet_info's helpers on real Parquet files."""

import pyarrow as pa
import pyarrow.parquet as pq

from ansible_collections.mt5crs.gpu_orchestrator.plugins.modules import parquet_info


def write(path, **columns):
    pq.write_table(pa.table(columns), str(path))
    return str(path)


def test_describe_reports_rows_columns_and_fingerprint(tmp_path):
    path = write(tmp_path / 'a.parquet', x=[1.0, 2.0, 3.0], label=pa.array([0, 1, 0], pa.int8()))
    info = parquet_info.describe(path)
    assert info['rows'] == 3
    assert info['columns'] == ['x', 'label']
    assert info['schema'] == [{'name': 'x', 'type': 'double'}, {'name': 'label', 'type': 'int8'}]
    assert len(info['schema_fingerprint']) == 64


def test_fingerprint_ignores_layout_but_not_types(tmp_path):
    a = write(tmp_path / 'a.parquet', x=[1.0, 2.0], label=[0, 1])
    b = str(tmp_path / 'b.parquet')
    pq.write_table(pa.table({'x': [5.0], 'label': [1]}), b, compression='zstd')
    c = write(tmp_path / 'c.parquet', x=[1, 2], label=[0, 1])
    assert parquet_info.describe(a)['schema_fingerprint'] == parquet_info.describe(b)['schema_fingerprint']
    assert parquet_info.describe(a)['schema_fingerprint'] != parquet_info.describe(c)['schema_fingerprint']


def test_unmet_expectations_list_found_and_expected(tmp_path):
    info = parquet_info.describe(write(tmp_path / 'a.parquet', x=[1.0], y=[2.0]))
    unmet = parquet_info.unmet_expectations(info, {
        'expect_rows': 5, 'min_rows': 1, 'expect_columns': ['x'], 'required_columns': ['label'],
        'expect_schema_fingerprint': '0' * 64})
    assert 'rows: found 1, expected 5' in unmet
    assert any(u.startswith("columns: found ['x', 'y'], expected ['x']") for u in unmet)
    assert any("missing ['label']" in u for u in unmet)
    assert any(u.startswith('schema fingerprint: found') for u in unmet)
    assert parquet_info.unmet_expectations(info, {'min_rows': 1, 'required_columns': ['x']}) == []

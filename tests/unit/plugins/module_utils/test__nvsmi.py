# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data-driven tests of the nvidia-smi parsers: recorded output in, expected fields out (fixtures/nvsmi/cases.yml)."""

import os
import re

import pytest
import yaml

from conftest import ROOT, SHARED
from ansible_collections.mt5crs.gpu_orchestrator.plugins.module_utils import _nvsmi

FIXTURES = os.path.join(ROOT, 'tests', 'fixtures', 'nvsmi')
SHARED_NVSMI = os.path.join(SHARED, 'nvsmi')

with open(os.path.join(FIXTURES, 'cases.yml')) as _stream:
    CASES = yaml.safe_load(_stream)


def read(path):
    with open(path, encoding='utf-8') as stream:
        return stream.read()


def fixture(relative):
    return read(os.path.join(FIXTURES, relative))


def check_expected(parsed, gpus, expect):
    """Compare the listed fields of a parse result with the case's expectations."""
    for key in ('driver_version', 'cuda_driver_version', 'attached_gpus'):
        if key in expect:
            assert parsed[key] == expect[key], key
    if 'gpu_count' in expect:
        assert len(gpus) == expect['gpu_count']
    for position, fields in (expect.get('gpus') or {}).items():
        for key, value in fields.items():
            assert gpus[position][key] == value, 'GPU %s %s' % (position, key)
    if 'mig_device_count' in expect:
        assert sum(len(gpu['mig_devices']) for gpu in gpus) == expect['mig_device_count']
    if 'mig_device_0' in expect:
        assert gpus[0]['mig_devices'][0] == expect['mig_device_0']


@pytest.mark.parametrize('case', CASES['xml'], ids=[case['name'] for case in CASES['xml']])
def test_parse_xml(case):
    parsed = _nvsmi.parse_xml(fixture(case['file']))
    check_expected(parsed, parsed['gpus'], case['expect'])
    for gpu in parsed['gpus']:
        assert set(gpu) == set(_nvsmi.GPU_KEYS)


@pytest.mark.parametrize('case', CASES['csv'], ids=[case['name'] for case in CASES['csv']])
def test_parse_query_gpu(case):
    fields = None if case['header'] else [field for field, key in _nvsmi.QUERY_FIELDS]
    gpus, driver_version = _nvsmi.parse_query_gpu(fixture(case['file']), fields)
    check_expected({'driver_version': driver_version}, gpus, case['expect'])


@pytest.mark.parametrize('case', CASES['failures'], ids=[case['name'] for case in CASES['failures']])
def test_classify_failure(case):
    stdout = fixture(case['stdout']) if 'stdout' in case else ''
    stderr = fixture(case['stderr']) if 'stderr' in case else ''
    state, detail = _nvsmi.classify_failure(case['rc'], stdout, stderr)
    assert state == case['state']
    assert detail.split()[0] in (stdout + stderr)


def test_failure_text_wins_over_exit_status():
    """A known text decides even when a wrapper changed the exit status."""
    state, dummy = _nvsmi.classify_failure(0, fixture('no-devices/stdout.txt'), '')
    assert state == _nvsmi.STATE_NO_DEVICES
    state, dummy = _nvsmi.classify_failure(1, fixture('version-mismatch/stdout.txt'), '')
    assert state == _nvsmi.STATE_VERSION_MISMATCH


def test_clean_exit_without_failure_text_is_not_a_failure():
    assert _nvsmi.classify_failure(0, '<nvidia_smi_log/>', '') is None


def test_unknown_exit_status_is_error_with_status_in_detail():
    assert _nvsmi.classify_failure(255, '', '') == (_nvsmi.STATE_ERROR, 'exit status 255 and no output')


def test_version_mismatch_reason_says_reboot():
    assert 'reboot' in _nvsmi.reason_for(_nvsmi.STATE_VERSION_MISMATCH, 'x', 18)


@pytest.mark.parametrize('marker', ['[N/A]', 'N/A', '[Not Supported]', '[Requested functionality has been deprecated]',
                                    'Requested functionality has been deprecated', '[Unknown Error]',
                                    '[Insufficient Permissions]', '[REDACTED]', '', '  '])
def test_unavailable_markers_become_null(marker):
    assert _nvsmi.clean(marker) is None
    assert _nvsmi.to_int(marker) is None
    assert _nvsmi.to_float(marker) is None
    assert _nvsmi.to_bool(marker) is None


@pytest.mark.parametrize('text,value', [('81559 MiB', 81559), ('16x', 16), ('59 C', 59), ('100 %', 100), ('0', 0)])
def test_to_int_strips_units(text, value):
    assert _nvsmi.to_int(text) == value


def test_version_tuple_compares_numerically():
    assert _nvsmi.version_tuple('535.54.03') > _nvsmi.version_tuple('535.9')
    assert _nvsmi.version_tuple('12.10') > _nvsmi.version_tuple('12.2')
    assert _nvsmi.version_tuple('[N/A]') is None


def test_parse_xml_rejects_text_that_is_not_the_report():
    with pytest.raises(_nvsmi.NvsmiParseError, match='expected an <nvidia_smi_log> document'):
        _nvsmi.parse_xml(fixture('no-devices/stdout.txt'))
    with pytest.raises(_nvsmi.NvsmiParseError, match='expected <nvidia_smi_log>'):
        _nvsmi.parse_xml('<other/>')
    with pytest.raises(_nvsmi.NvsmiParseError, match='empty'):
        _nvsmi.parse_xml('')
    with pytest.raises(_nvsmi.NvsmiParseError, match='declares entities'):
        _nvsmi.parse_xml('<!DOCTYPE x [<!ENTITY a "aaaa">]><nvidia_smi_log>&a;</nvidia_smi_log>')


def test_parse_query_gpu_rejects_rows_of_the_wrong_width():
    with pytest.raises(_nvsmi.NvsmiParseError, match='row 1 has 2 values'):
        _nvsmi.parse_query_gpu('0, GPU-1\n', ['index', 'uuid', 'name'])


def test_merge_fills_xml_gaps_from_the_query_and_keeps_xml_values():
    xml = _nvsmi.parse_xml(fixture('a100-mig/q-x.xml'))['gpus']
    rows, dummy = _nvsmi.parse_query_gpu(fixture('a100-mig/query-gpu.csv'),
                                         [field for field, key in _nvsmi.QUERY_FIELDS])
    rows[0]['memory_used_mib'] = 12345
    merged = _nvsmi.merge_gpus(xml, rows)
    assert merged[0]['compute_capability'] == '8.0'
    assert merged[0]['memory_used_mib'] == 50
    assert len(merged[0]['mig_devices']) == 4


def test_merge_matches_by_uuid_not_position():
    first, second = _nvsmi.empty_gpu(), _nvsmi.empty_gpu()
    first.update(uuid='GPU-a', index=0)
    second.update(uuid='GPU-b', index=1)
    merged = _nvsmi.merge_gpus([first, second], [{'uuid': 'GPU-b', 'index': 1, 'compute_capability': '9.0'},
                                                 {'uuid': 'GPU-a', 'index': 0, 'compute_capability': '8.0'}])
    assert [gpu['compute_capability'] for gpu in merged] == ['8.0', '9.0']


class _Memory:
    def __init__(self, total, used):
        self.total, self.used, self.free = total, used, total - used


class _NVMLError(Exception):
    def __init__(self, value):
        super().__init__('NVML error %d' % value)
        self.value = value


class RecordedNvml:
    """NVML answers of the H100 capture (values from the shared H100 load capture), unsupported calls raise."""

    NVML_TEMPERATURE_GPU = 0

    def nvmlDeviceGetCount(self):
        return 1

    def nvmlDeviceGetHandleByIndex(self, index):
        return 'handle-%d' % index

    def nvmlSystemGetDriverVersion(self):
        return b'590.48.01'

    def nvmlSystemGetCudaDriverVersion_v2(self):
        return 13010

    def nvmlDeviceGetName(self, handle):
        return 'NVIDIA H100 80GB HBM3'

    def nvmlDeviceGetUUID(self, handle):
        return 'GPU-00000000-0000-0000-0000-000000000000'

    def nvmlDeviceGetMemoryInfo(self, handle):
        return _Memory(81559 * 1024 * 1024, 19818 * 1024 * 1024)

    def nvmlDeviceGetCudaComputeCapability(self, handle):
        return (9, 0)

    def nvmlDeviceGetPowerUsage(self, handle):
        return 631950

    def nvmlDeviceGetPowerManagementLimit(self, handle):
        return 700000

    def nvmlDeviceGetMigMode(self, handle):
        return (0, 0)

    def nvmlDeviceGetEccMode(self, handle):
        return (1, 1)

    def nvmlDeviceGetUtilizationRates(self, handle):
        raise _NVMLError(3)

    def nvmlDeviceGetCurrPcieLinkGeneration(self, handle):
        return 5


def test_read_nvml_maps_values_and_unsupported_calls_to_null():
    parsed = _nvsmi.read_nvml(RecordedNvml())
    assert parsed['driver_version'] == '590.48.01'
    assert parsed['cuda_driver_version'] == '13.1'
    gpu = parsed['gpus'][0]
    assert gpu['memory_total_mib'] == 81559 and gpu['memory_free_mib'] == 61741
    assert gpu['compute_capability'] == '9.0'
    assert gpu['power_draw_w'] == 631.95 and gpu['power_limit_w'] == 700.0
    assert gpu['utilization_gpu_pct'] is None and gpu['pcie_gen_max'] is None
    assert gpu['ecc_mode'] is True and gpu['mig_mode'] is False
    assert set(gpu) == set(_nvsmi.GPU_KEYS)


# Tests that read the shared captures directly; they skip where ../shared is absent.

def shared_capture(name):
    path = os.path.join(SHARED_NVSMI, name)
    if not os.path.exists(path):
        pytest.skip('shared capture not present: %s' % path)
    return read(path)


@pytest.mark.parametrize('case', CASES['shared'], ids=[case['capture'] for case in CASES['shared']])
def test_project_fixture_keeps_the_values_of_its_shared_capture(case):
    capture = shared_capture(case['capture'])
    own = fixture(case['fixture'])
    if case['format'] == 'xml':
        assert _nvsmi.parse_xml(capture) == _nvsmi.parse_xml(own)
    elif case['format'] == 'csv':
        assert _nvsmi.parse_query_gpu(capture) == _nvsmi.parse_query_gpu(own)
    else:
        stdout, stderr = (capture, '') if 'stderr' not in case['fixture'] else ('', capture)
        assert _nvsmi.classify_failure(case['rc'], stdout, stderr)[0] == case['state']
        assert capture == own


def test_every_marker_in_the_shared_captures_parses_to_null():
    if not os.path.isdir(SHARED_NVSMI):
        pytest.skip('shared captures not present: %s' % SHARED_NVSMI)
    markers = set()
    for name in os.listdir(SHARED_NVSMI):
        if name.endswith('.csv'):
            markers.update(re.findall(r'\[[A-Za-z][A-Za-z /]+\]', read(os.path.join(SHARED_NVSMI, name))))
    markers = {marker for marker in markers if ' ' in marker or marker in ('[N/A]',)}
    assert '[Requested functionality has been deprecated]' in markers
    for marker in markers:
        assert _nvsmi.clean(marker) is None, marker

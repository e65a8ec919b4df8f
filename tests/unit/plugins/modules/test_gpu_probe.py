# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of gpu_probe: the module's helpers and main() against the replaying fake nvidia-smi."""

import json
import os
import socket
import sys

import pytest
import yaml

from ansible.module_utils.testing import patch_module_args
from conftest import ROOT
from ansible_collections.mt5crs.gpu_orchestrator.plugins.modules import gpu_probe

FIXTURES = os.path.join(ROOT, 'tests', 'fixtures', 'nvsmi')
FAKE = os.path.join(ROOT, 'tests', 'support', 'fake_nvidia_smi.py')

with open(os.path.join(FIXTURES, 'cases.yml')) as _stream:
    SCENARIOS = yaml.safe_load(_stream)['scenarios']


@pytest.fixture
def fake_log(tmp_path, monkeypatch):
    log = tmp_path / 'calls.jsonl'
    monkeypatch.setenv('FAKE_NVSMI_LOG', str(log))
    return log


def calls(log):
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def params(**overrides):
    values = {'nvidia_smi': None, 'python': None, 'paths': [], 'endpoints': [], 'timeout': 30, 'connect_timeout': 2,
              'require': {}}
    values.update(overrides)
    return values


def run_main(args, capsys):
    """Run the module's main() with args; return (failed, result) as Ansible would receive them."""
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            gpu_probe.main()
    result = json.loads(capsys.readouterr().out)
    return bool(result.get('failed')), result


@pytest.mark.parametrize('scenario', sorted(SCENARIOS))
def test_scenario_through_the_fake_nvidia_smi(scenario, fake_log, monkeypatch):
    expect = SCENARIOS[scenario]
    monkeypatch.setenv('FAKE_NVSMI_SCENARIO', scenario)
    warnings = []
    result = gpu_probe.probe(params(nvidia_smi=FAKE), warnings.append)

    for key in ('state', 'cuda_active', 'gpu_count', 'driver_version', 'cuda_driver_version'):
        if key in expect:
            assert result[key] == expect[key], key
    for key, value in (expect.get('gpu0') or {}).items():
        assert result['gpus'][0][key] == value, key
    if 'mig_devices' in expect:
        assert len(result['gpus'][0]['mig_devices']) == expect['mig_devices']
    if 'reason' in expect:
        assert expect['reason'] in result['reason']
    if 'warning' in expect:
        assert any(expect['warning'] in warning for warning in warnings)
    else:
        assert warnings == []
    assert result['source'] == 'nvidia-smi' and result['nvidia_smi'] == FAKE

    made = calls(fake_log)
    assert len(made) == expect['calls'] <= 2
    assert all(call['matched'] and call['lc_all'] == 'C' for call in made)


def test_nvidia_smi_is_found_on_path(tmp_path, fake_log, monkeypatch):
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    (bindir / 'nvidia-smi').symlink_to(FAKE)
    monkeypatch.setenv('PATH', '%s%s%s' % (bindir, os.pathsep, os.environ['PATH']))
    monkeypatch.setenv('FAKE_NVSMI_SCENARIO', 't4')
    result = gpu_probe.probe(params(), pytest.fail)
    assert result['nvidia_smi'] == str(bindir / 'nvidia-smi')
    assert result['gpus'][0]['name'] == 'Tesla T4'


def test_given_nvidia_smi_that_does_not_exist_is_no_nvidia_smi(tmp_path):
    result = gpu_probe.probe(params(nvidia_smi=str(tmp_path / 'nvidia-smi')), pytest.fail)
    assert result['state'] == 'no_nvidia_smi' and result['cuda_active'] is False
    assert str(tmp_path / 'nvidia-smi') in result['reason']


def test_nvidia_smi_that_hangs_is_an_error_after_the_timeout(tmp_path):
    slow = tmp_path / 'nvidia-smi'
    slow.write_text('#!/bin/sh\nsleep 30\n')
    slow.chmod(0o755)
    result = gpu_probe.probe(params(nvidia_smi=str(slow), timeout=1), pytest.fail)
    assert result['state'] == 'error' and 'did not answer within 1 s' in result['reason']


def test_main_sets_the_fact_and_changes_nothing(monkeypatch, capsys):
    monkeypatch.setenv('FAKE_NVSMI_SCENARIO', 'h100')
    failed, result = run_main({'nvidia_smi': FAKE, '_ansible_check_mode': True}, capsys)
    assert not failed and result['changed'] is False
    fact = result['ansible_facts']['gpu_probe']
    assert fact['gpus'] == result['gpus'] and fact['state'] == result['state'] == 'ok'
    assert fact['python']['executable'] == sys.executable


def test_main_fails_listing_every_unmet_requirement(monkeypatch, capsys):
    monkeypatch.setenv('FAKE_NVSMI_SCENARIO', 'no-driver')
    failed, result = run_main({'nvidia_smi': FAKE, 'require': {'cuda': True, 'min_gpus': 1, 'min_driver': '535'}},
                              capsys)
    assert failed
    assert result['msg'].startswith('Host does not meet the GPU requirements: cuda: found no usable NVIDIA GPU '
                                    '(state driver_not_loaded')
    assert result['unmet'][1:] == ['min_gpus: found 0 GPUs, required at least 1',
                                   'min_driver: found no driver version (state driver_not_loaded), required at '
                                   'least 535']


def test_main_rejects_torch_cuda_without_python(capsys):
    failed, result = run_main({'nvidia_smi': '/nonexistent/nvidia-smi', 'require': {'torch_cuda': True}}, capsys)
    assert failed and 'require.torch_cuda needs the python option' in result['msg']


def h100_result(**overrides):
    gpu = dict.fromkeys(gpu_probe._nvsmi.GPU_KEYS)
    gpu.update(index=0, name='NVIDIA H100 80GB HBM3', memory_total_mib=81559)
    result = {'state': 'ok', 'reason': 'fine', 'cuda_active': True, 'gpu_count': 1, 'gpus': [gpu],
              'driver_version': '590.48.01', 'cuda_driver_version': '13.1', 'paths': {}, 'endpoints': {}}
    result.update(overrides)
    return result


UNMET_CASES = [
    ({'cuda': True, 'min_gpus': 1, 'min_memory_mib': 81559, 'min_driver': '590.48', 'min_cuda': '13.1'}, {}, []),
    ({'min_gpus': 2}, {}, ['min_gpus: found 1 GPU, required at least 2']),
    ({'min_memory_mib': 90000}, {},
     ['min_memory_mib: found 81559 MiB on GPU 0 (NVIDIA H100 80GB HBM3), required at least 90000 MiB']),
    ({'min_driver': '595.10', 'min_cuda': '13.2'}, {},
     ['min_driver: found driver 590.48.01, required at least 595.10',
      'min_cuda: found CUDA 13.1, required at least 13.2']),
    ({'min_free_gb': 10}, {'paths': {'/data': {'free_gb': 9.5}, '/opt': {'free_gb': 20.0}}},
     ['min_free_gb: found 9.5 GiB free for /data, required at least 10 GiB']),
    ({'min_free_gb': {'/opt': 50}}, {'paths': {'/data': {'free_gb': 9.5}, '/opt': {'free_gb': 20.0}}},
     ['min_free_gb: found 20.0 GiB free for /opt, required at least 50 GiB']),
    ({'endpoints': True}, {'endpoints': {'s3:9000': {'reachable': False, 'error': 'Connection refused'},
                                         'ok:1': {'reachable': True, 'error': None}}},
     ['endpoints: found s3:9000 unreachable (Connection refused), required reachable']),
    ({'torch_cuda': True}, {'torch': {'version': '2.13.0+cpu', 'cuda': None, 'cuda_available': False, 'error': None}},
     ['torch_cuda: found torch 2.13.0+cpu (CUDA build None) with CUDA unavailable, required '
      'torch.cuda.is_available() to be true']),
    ({'torch_cuda': True}, {'torch': {'error': 'import torch failed: ModuleNotFoundError: No module named torch'}},
     ['torch_cuda: found import torch failed: ModuleNotFoundError: No module named torch, required '
      'torch.cuda.is_available() to be true']),
]


@pytest.mark.parametrize('require,overrides,unmet', UNMET_CASES)
def test_unmet_requirements(require, overrides, unmet):
    assert gpu_probe.unmet_requirements(h100_result(**overrides), require) == unmet


def test_bad_requirement_values_are_refused_with_the_expected_format():
    with pytest.raises(gpu_probe.ProbeError, match='expected numbers joined by dots'):
        gpu_probe.unmet_requirements(h100_result(), {'min_driver': 'latest'})
    with pytest.raises(gpu_probe.ProbeError, match='expected GiB as a number'):
        gpu_probe.free_space_minimums({'min_free_gb': {'/data': 'lots'}}, [])


@pytest.mark.parametrize('text,parsed', [
    ('127.0.0.1:9000', ('127.0.0.1', 9000)), ('[::1]:443', ('::1', 443)), ('minio.local:9000', ('minio.local', 9000)),
    ('https://s3.example.com', ('s3.example.com', 443)), ('http://127.0.0.1:9000/bucket', ('127.0.0.1', 9000)),
])
def test_split_endpoint(text, parsed):
    assert gpu_probe.split_endpoint(text) == parsed


@pytest.mark.parametrize('text', ['no-port', 'host:notaport', ':9000', 'ftp://host'])
def test_split_endpoint_refuses_what_it_cannot_read(text):
    with pytest.raises(gpu_probe.ProbeError, match='expected host:port'):
        gpu_probe.split_endpoint(text)


def test_endpoints_report_a_listening_port_and_a_closed_one():
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    closed = socket.socket()
    closed.bind(('127.0.0.1', 0))
    open_port, closed_port = listener.getsockname()[1], closed.getsockname()[1]
    closed.close()
    try:
        report = gpu_probe.probe_endpoints(['127.0.0.1:%d' % open_port, '127.0.0.1:%d' % closed_port], 2)
    finally:
        listener.close()
    reachable = report['127.0.0.1:%d' % open_port]
    assert reachable['reachable'] is True and reachable['connect_ms'] >= 0 and reachable['error'] is None
    refused = report['127.0.0.1:%d' % closed_port]
    assert refused['reachable'] is False and refused['connect_ms'] is None and refused['error']


def test_paths_measure_the_nearest_existing_parent(tmp_path):
    missing = str(tmp_path / 'not' / 'yet')
    report = gpu_probe.probe_paths([str(tmp_path), missing])
    assert report[str(tmp_path)]['exists'] is True
    assert report[missing]['exists'] is False and report[missing]['measured_path'] == str(tmp_path)
    assert 0 < report[missing]['free_bytes'] <= report[missing]['total_bytes']


def test_torch_check_reports_a_missing_torch_instead_of_crashing(tmp_path):
    script = tmp_path / 'python'
    script.write_text('#!/bin/sh\nexec %s -S "$@"\n' % sys.executable)   # -S: no site-packages, so no torch
    script.chmod(0o755)
    torch = gpu_probe.probe_torch(str(script), 60)
    assert torch['version'] is None and torch['python_version']
    assert torch['error'].startswith('import torch failed: ModuleNotFoundError')


def test_torch_check_reports_a_missing_interpreter_and_a_timeout(tmp_path):
    assert 'Failed to run Python interpreter' in gpu_probe.probe_torch(str(tmp_path / 'python'), 5)['error']
    slow = tmp_path / 'slow-python'
    slow.write_text('#!/bin/sh\nsleep 30\n')
    slow.chmod(0o755)
    assert 'did not finish within 1 s' in gpu_probe.probe_torch(str(slow), 1)['error']

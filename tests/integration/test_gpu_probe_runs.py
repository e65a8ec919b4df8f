# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""gpu_probe end to end through ansible-playbook (local connection), nvidia-smi replayed by the fake on PATH."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, run_playbook

FAKE = os.path.join(ROOT, 'tests', 'support', 'fake_nvidia_smi.py')
FIXTURES = os.path.join(ROOT, 'tests', 'fixtures', 'nvsmi')

with open(os.path.join(FIXTURES, 'cases.yml')) as _stream:
    SCENARIOS = yaml.safe_load(_stream)['scenarios']

LOCAL = ['-c', 'local']

PROBE_PLAY = """
- name: Probe recorded GPU hosts through the fake nvidia-smi
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Probe each recorded scenario in check mode
      mt5crs.gpu_orchestrator.gpu_probe:
        nvidia_smi: "{{ fake }}"
      check_mode: true
      environment:
        FAKE_NVSMI_SCENARIO: "{{ item }}"
        FAKE_NVSMI_LOG: "{{ out }}/calls-{{ item }}.jsonl"
      loop: "{{ scenarios }}"
      register: probes

    - name: Probe with nvidia-smi found on PATH
      mt5crs.gpu_orchestrator.gpu_probe:
        paths:
          - "{{ out }}"
      environment:
        PATH: "{{ bindir }}:{{ outer_path }}"
        FAKE_NVSMI_SCENARIO: h100
        FAKE_NVSMI_LOG: "{{ out }}/calls-path.jsonl"

    - name: Keep the fact the probe set
      ansible.builtin.set_fact:
        fact_after_path_probe: "{{ gpu_probe }}"

    - name: Probe this machine for real
      mt5crs.gpu_orchestrator.gpu_probe:
      register: real

    - name: Write the results for the test
      ansible.builtin.copy:
        content: "{{ {'probes': probes.results, 'fact': fact_after_path_probe, 'real': real} | to_json }}"
        dest: "{{ out }}/results.json"
        mode: "0600"
"""

REQUIRE_PLAY = """
- name: Require CUDA on a host without it
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Probe and require CUDA
      mt5crs.gpu_orchestrator.gpu_probe:
        nvidia_smi: "{{ fake }}"
        require:
          cuda: true
          min_gpus: 1
      environment:
        FAKE_NVSMI_SCENARIO: no-driver

    - name: Never reached
      ansible.builtin.debug:
        msg: the play went on after an unmet requirement
"""

TORCH_PLAY = """
- name: Inspect PyTorch in two interpreters
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Probe the venv with torch
      mt5crs.gpu_orchestrator.gpu_probe:
        nvidia_smi: "{{ out }}/no-such-nvidia-smi"
        python: "{{ with_torch }}"
      register: with_torch_probe

    - name: Probe the venv without torch
      mt5crs.gpu_orchestrator.gpu_probe:
        nvidia_smi: "{{ out }}/no-such-nvidia-smi"
        python: "{{ without_torch }}"
      register: without_torch_probe

    - name: Require CUDA in torch from the CPU build
      mt5crs.gpu_orchestrator.gpu_probe:
        nvidia_smi: "{{ out }}/no-such-nvidia-smi"
        python: "{{ with_torch }}"
        require:
          torch_cuda: true
      register: torch_cuda_probe
      ignore_errors: true

    - name: Write the results for the test
      ansible.builtin.copy:
        content: "{{ {'with': with_torch_probe, 'without': without_torch_probe, 'cuda': torch_cuda_probe} | to_json }}"
        dest: "{{ out }}/torch.json"
        mode: "0600"
"""


def base_vars(out):
    return {'ansible_python_interpreter': sys.executable, 'fake': FAKE, 'out': str(out)}


@pytest.fixture(scope='module')
def probe_results(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp('gpu-probe')
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    (bindir / 'nvidia-smi').symlink_to(FAKE)
    playbook = tmp_path / 'probe.yml'
    playbook.write_text(PROBE_PLAY)
    extra = base_vars(tmp_path)
    extra.update(scenarios=sorted(SCENARIOS), bindir=str(bindir), outer_path=os.environ.get('PATH', ''))
    run_playbook(tmp_path, playbook, 'localhost,', extra_vars=extra, args=LOCAL)
    results = json.loads((tmp_path / 'results.json').read_text())
    results['probes'] = {probe['item']: probe for probe in results['probes']}
    results['dir'] = tmp_path
    return results


@pytest.mark.slow
@pytest.mark.parametrize('scenario', sorted(SCENARIOS))
def test_recorded_host(probe_results, scenario):
    expect = SCENARIOS[scenario]
    probe = probe_results['probes'][scenario]
    assert probe['changed'] is False and not probe.get('failed')
    for key in ('state', 'cuda_active', 'gpu_count', 'driver_version', 'cuda_driver_version'):
        if key in expect:
            assert probe[key] == expect[key], key
    for key, value in (expect.get('gpu0') or {}).items():
        assert probe['gpus'][0][key] == value, key
    if 'mig_devices' in expect:
        assert len(probe['gpus'][0]['mig_devices']) == expect['mig_devices']
    if 'reason' in expect:
        assert expect['reason'] in probe['reason']
    assert probe['ansible_facts']['gpu_probe']['state'] == probe['state']

    log = probe_results['dir'] / ('calls-%s.jsonl' % scenario)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(calls) == expect['calls']
    assert all(call['matched'] and call['lc_all'] == 'C' for call in calls)


@pytest.mark.slow
def test_nvidia_smi_on_path_sets_the_fact(probe_results):
    fact = probe_results['fact']
    assert fact['nvidia_smi'] == str(probe_results['dir'] / 'bin' / 'nvidia-smi')
    assert fact['gpus'][0]['name'] == 'NVIDIA H100 80GB HBM3' and fact['cuda_active'] is True
    assert fact['paths'][str(probe_results['dir'])]['free_bytes'] > 0
    assert fact['python']['executable'] == sys.executable


@pytest.mark.slow
def test_this_machine_has_no_gpu(probe_results):
    real = probe_results['real']
    found = subprocess.run(['sh', '-c', 'command -v nvidia-smi'], stdout=subprocess.PIPE, check=False).returncode == 0
    if found:
        pytest.skip('this machine has an nvidia-smi; the no-GPU case does not apply')
    assert real['cuda_active'] is False and real['state'] == 'no_nvidia_smi'
    assert real['gpu_count'] == 0 and real['gpus'] == []
    assert 'nvidia-smi was not found' in real['reason']


@pytest.mark.slow
def test_require_cuda_stops_the_play_with_a_readable_message(tmp_path):
    playbook = tmp_path / 'require.yml'
    playbook.write_text(REQUIRE_PLAY)
    proc = run_playbook(tmp_path, playbook, 'localhost,', extra_vars=base_vars(tmp_path), args=LOCAL, check=False)
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert 'Host does not meet the GPU requirements: cuda: found no usable NVIDIA GPU (state driver_not_loaded' in \
        proc.stdout
    assert 'the NVIDIA kernel driver is not loaded' in proc.stdout
    assert 'min_gpus: found 0 GPUs, required at least 1' in proc.stdout
    assert 'the play went on' not in proc.stdout


@pytest.fixture(scope='session')
def torch_venvs(tmp_path_factory):
    """Two real venvs: one with the pinned CPU torch wheel installed by pip, one without torch."""
    base = tmp_path_factory.mktemp('torch-venvs')
    with_torch, without_torch = base / 'with-torch', base / 'without-torch'
    subprocess.run(['python3', '-m', 'venv', str(with_torch)], check=True)
    subprocess.run([str(with_torch / 'bin' / 'pip'), 'install', '--quiet', 'torch==2.13.0'], check=True)
    subprocess.run(['python3', '-m', 'venv', '--without-pip', str(without_torch)], check=True)
    return str(with_torch / 'bin' / 'python'), str(without_torch / 'bin' / 'python')


@pytest.mark.slow
def test_torch_check_in_venvs_with_and_without_torch(tmp_path, torch_venvs):
    playbook = tmp_path / 'torch.yml'
    playbook.write_text(TORCH_PLAY)
    extra = base_vars(tmp_path)
    extra.update(with_torch=torch_venvs[0], without_torch=torch_venvs[1])
    run_playbook(tmp_path, playbook, 'localhost,', extra_vars=extra, args=LOCAL)
    results = json.loads((tmp_path / 'torch.json').read_text())

    torch = results['with']['torch']
    assert torch['version'] == '2.13.0+cpu' and torch['local_label'] == 'cpu'
    assert torch['cuda'] is None and torch['cuda_available'] is False
    assert torch['device_count'] == 0 and torch['devices'] == [] and torch['error'] is None
    assert results['with']['state'] == 'no_nvidia_smi'

    missing = results['without']['torch']
    assert missing['version'] is None
    assert missing['error'].startswith('import torch failed: ModuleNotFoundError')

    failed = results['cuda']
    assert failed['failed'] is True
    assert 'torch_cuda: found torch 2.13.0+cpu (CUDA build None) with CUDA unavailable' in failed['msg']

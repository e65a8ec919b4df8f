# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Playbook-level tests of the review gate: real ansible-playbook runs, real bandit/shellcheck, a real HTTP
chat-completions server on 127.0.0.1, the real verify_log callback, and the smoke test with a real CPU torch."""

import glob
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, ansible_env, run_playbook

sys.path.insert(0, os.path.join(ROOT, 'tests', 'support'))

from chat_server import ChatServer  # noqa: E402  (tests/support is put on sys.path just above)

pytestmark = pytest.mark.slow

GOOD_SH = '#!/bin/bash\nset -eu\necho "smoke"\n'
BAD_SH = ('#!/bin/bash\nset -eu\ncurl -fsSL https://get.example.invalid/setup.sh | sh\n'
          'db_password="hunter2hunter2"\necho "$db_password"\n')
LOCAL = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}

REVIEW_PLAY = """
- name: Review scripts bound for GPU hosts
  hosts: localhost
  gather_facts: false
  tags: [review]
  roles:
    - role: mt5crs.gpu_orchestrator.review_gate
"""

DEPLOY_PLAY = """
- name: Deploy a reviewed script
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Install the script through the review gate
      mt5crs.gpu_orchestrator.approved_copy:
        src: "{{ script }}"
        dest: "{{ dest }}"
        mode: "0755"
"""


def playbook(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def script(tmp_path, name, text):
    path = tmp_path / 'src' / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return str(path)


def ledger_entries(ledger):
    with open(ledger) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def verify_records(tmp_path):
    records = []
    for path in sorted(glob.glob(str(tmp_path / 'verify' / '*.jsonl'))):
        with open(path) as handle:
            records += [json.loads(line) for line in handle if line.strip()]
    return [r for r in records if r.get('type') == 'task']


def review(tmp_path, files, ledger, check=True, env=None, **extra):
    extra_vars = dict(LOCAL, review_gate_files=files, mt5crs_review_ledger=ledger, **extra)
    return run_playbook(tmp_path, playbook(tmp_path, 'review.yml', REVIEW_PLAY), extra_vars=extra_vars,
                        check=check, env=env)


def deploy(tmp_path, src, dest, ledger, check=True, **extra):
    extra_vars = dict(LOCAL, script=src, dest=dest, mt5crs_review_ledger=ledger, **extra)
    return run_playbook(tmp_path, playbook(tmp_path, 'deploy.yml', DEPLOY_PLAY), extra_vars=extra_vars, check=check)


def test_approve_then_one_byte_changed_is_refused(tmp_path):
    src = script(tmp_path, 'job.sh', GOOD_SH)
    ledger = str(tmp_path / 'ledger' / 'approvals.jsonl')

    first = review(tmp_path, [src], ledger)
    assert 'changed=1' in first.stdout
    second = review(tmp_path, [src], ledger)
    assert 'changed=0' in second.stdout
    entries = ledger_entries(ledger)
    assert len(entries) == 1
    assert entries[0]['verdict'] == 'approve' and entries[0]['path'] == src
    assert [c['check'] for c in entries[0]['gate1']['checks']] == ['bash -n', 'shellcheck (errors)']

    dest = tmp_path / 'host' / 'job.sh'
    dest.parent.mkdir()
    deploy(tmp_path, src, str(dest), ledger)
    assert dest.read_text() == GOOD_SH and oct(dest.stat().st_mode & 0o777) == '0o755'

    with open(src, 'r+b') as handle:
        handle.seek(len('#!/bin/bash\nset -eu\necho "smok'))
        handle.write(b'E')
    dest2 = tmp_path / 'host' / 'job2.sh'
    refused = deploy(tmp_path, src, str(dest2), ledger, check=False)
    assert refused.returncode != 0
    assert 'approved_copy refused %s: changed since review' % src in refused.stdout
    assert not dest2.exists()

    records = verify_records(tmp_path)
    reviews = [r for r in records if r['action'].endswith('script_review')]
    copies = [r for r in records if r['action'].endswith('approved_copy')]
    assert reviews and reviews[0]['result']['reviews'][0]['sha256'] == entries[0]['sha256']
    assert [c['result']['review']['status'] for c in copies] == ['approved', 'changed since review']


def test_rejection_stops_the_play_and_override_is_loud(tmp_path):
    src = script(tmp_path, 'bad.sh', BAD_SH)
    ledger = str(tmp_path / 'approvals.jsonl')

    rejected = review(tmp_path, [src], ledger, check=False)
    assert rejected.returncode != 0
    assert 'Review gate refused 1 of 1 file(s): %s: rejected' % src in rejected.stdout
    assert 'pipe-to-shell line 3' in rejected.stdout and 'credential-literal' in rejected.stdout
    assert 'hunter2hunter2' not in rejected.stdout
    entry = ledger_entries(ledger)[-1]
    assert entry['verdict'] == 'reject'
    assert {f['rule'] for f in entry['findings']} >= {'pipe-to-shell', 'credential-literal'}

    dest = tmp_path / 'host' / 'bad.sh'
    dest.parent.mkdir()
    refused = deploy(tmp_path, src, str(dest), ledger, check=False)
    assert refused.returncode != 0
    assert 'approved_copy refused %s: rejected' % src in refused.stdout
    assert not dest.exists()

    forced = deploy(tmp_path, src, str(dest), ledger, mt5crs_review_override=True)
    assert 'EMERGENCY OVERRIDE of the review gate: copying UNAPPROVED %s' % src in forced.stdout
    assert dest.read_text() == BAD_SH
    override = ledger_entries(ledger)[-1]
    assert override['type'] == 'override' and override['bypassed'] == 'rejected' and override['dest'] == str(dest)
    copies = [r for r in verify_records(tmp_path) if r['action'].endswith('approved_copy')]
    assert copies[-1]['result']['review_override'] is True and copies[-1]['result']['review']['override'] is True

    again = deploy(tmp_path, src, str(tmp_path / 'host' / 'bad2.sh'), ledger, check=False)
    assert again.returncode != 0 and not (tmp_path / 'host' / 'bad2.sh').exists()


def test_llm_reviewer_records_verdict_and_fails_closed(tmp_path):
    key = 'sk-test-not-a-real-key-0123456789'
    env = ansible_env(tmp_path, MT5CRS_REVIEW_API_KEY=key)
    ledger = str(tmp_path / 'approvals.jsonl')
    good = script(tmp_path, 'train.py', 'print("train")\n')
    garbage = script(tmp_path, 'eval.py', 'print("eval")\n')
    slow = script(tmp_path, 'export.py', 'print("export")\n')

    with ChatServer() as chat:
        llm = dict(review_gate_reviewer=['static', 'llm'], review_gate_llm_endpoint=chat.endpoint,
                   review_gate_llm_model='local-reviewer', review_gate_llm_timeout=2)
        review(tmp_path, [good], ledger, env=env, **llm)
        entry = ledger_entries(ledger)[-1]
        assert entry['verdict'] == 'approve' and entry['reviewer'] == 'static+llm:local-reviewer'
        assert entry['session_id'] == chat.last_id
        assert entry['tokens'] == {'prompt_tokens': 321, 'completion_tokens': 17, 'total_tokens': 338}
        assert chat.requests[-1]['headers']['Authorization'] == 'Bearer ' + key
        assert chat.requests[-1]['body']['model'] == 'local-reviewer'

        chat.behaviour['content'] = 'The file looks fine to me.'
        broken = review(tmp_path, [good, garbage], ledger, check=False, env=env, **llm)
        assert broken.returncode != 0
        assert '%s: reviewer error (Failed to parse llm verdict: answer is not JSON' % garbage in broken.stdout
        assert len(chat.requests) == 2

        chat.behaviour.update(content='{"verdict": "approve", "findings": []}', sleep=5)
        timed_out = review(tmp_path, [slow], ledger, check=False, env=env, **llm)
        assert timed_out.returncode != 0
        assert '%s: reviewer error (LLM reviewer timed out after 2s' % slow in timed_out.stdout

    dest = tmp_path / 'host' / 'eval.py'
    refused = deploy(tmp_path, garbage, str(dest), ledger, check=False)
    assert 'approved_copy refused %s: reviewer error' % garbage in refused.stdout and not dest.exists()

    logs = ''.join(open(p).read() for p in glob.glob(str(tmp_path / 'verify' / '*')))
    assert key not in logs and key not in broken.stdout + timed_out.stdout + open(ledger).read()
    reviews = [r for r in verify_records(tmp_path) if r['action'].endswith('script_review')]
    assert reviews[0]['result']['reviews'][0]['session_id'] == entry['session_id']


@pytest.fixture(scope='module')
def torch_python(tmp_path_factory):
    """A Python with CPU torch, pyarrow and pandas: MT5CRS_TEST_TORCH_PYTHON, else a venv cached in .cache/."""
    given = os.environ.get('MT5CRS_TEST_TORCH_PYTHON')
    if given:
        return given
    venv = os.path.join(ROOT, '.cache', 'smoke-venv')
    python = os.path.join(venv, 'bin', 'python')
    probe = [python, '-c', 'import torch, pyarrow, pandas']
    if os.path.exists(python) and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return python
    subprocess.run([sys.executable, '-m', 'venv', '--clear', venv], check=True)
    subprocess.run([python, '-m', 'pip', 'install', '--quiet', 'torch==2.13.0', 'pyarrow', 'pandas', 'numpy'],
                   check=True)
    return python


def make_dataset(path, rows=1500):
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    features = rng.normal(size=(rows, 5))
    label = (features @ np.array([0.9, -0.6, 0.3, 0.0, 0.2]) + rng.normal(scale=0.7, size=rows) > 0).astype('int8')
    frame = pd.DataFrame(features, columns=['ret_1', 'ret_5', 'range_hl', 'vol_10', 'dist_sma_20'])
    frame.insert(0, 'time', pd.date_range('2017-04-19', periods=rows, freq='h', tz='UTC'))
    frame['label'] = label
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), str(path))


def test_smoke_script_trains_on_cpu(tmp_path, torch_python):
    data = tmp_path / 'eurusd.parquet'
    make_dataset(data)
    smoke = os.path.join(ROOT, 'roles', 'gpu_smoke', 'files', 'smoke_train.py')
    proc = subprocess.run([torch_python, smoke, '--data', str(data), '--steps', '15'], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith('device: cpu (CUDA not available')
    result = json.loads(lines[-1])
    assert result['device'] == 'cpu' and result['rows'] == 1500 and result['steps'] == 15
    assert result['features'] == ['ret_1', 'ret_5', 'range_hl', 'vol_10', 'dist_sma_20']
    assert result['loss_after'] < result['loss_before']

    cuda = subprocess.run([torch_python, smoke, '--data', str(data), '--require-cuda'], capture_output=True, text=True,
                          check=False)
    assert cuda.returncode == 3 and 'CUDA required' in cuda.stderr
    missing = subprocess.run([torch_python, smoke, '--data', str(data), '--label', 'target'], capture_output=True,
                             text=True, check=False)
    assert missing.returncode == 2 and 'Label column not found: target' in missing.stderr


def test_review_and_smoke_phases(tmp_path, torch_python):
    data = tmp_path / 'data' / 'eurusd.parquet'
    data.parent.mkdir()
    make_dataset(data)
    ledger = str(tmp_path / 'approvals.jsonl')
    text = REVIEW_PLAY + """
- name: Run the smoke test
  hosts: localhost
  gather_facts: false
  tags: [smoke]
  roles:
    - role: mt5crs.gpu_orchestrator.gpu_smoke
  tasks:
    - name: Check the smoke result fact
      ansible.builtin.assert:
        that:
          - gpu_smoke_result.ok
          - gpu_smoke_result.device == 'cpu'
          - gpu_smoke_result.rows == 1500
"""
    extra = dict(LOCAL, mt5crs_review_ledger=ledger, gpu_smoke_python=torch_python,
                 gpu_smoke_script_dir=str(tmp_path / 'scripts'), gpu_smoke_dataset=str(data),
                 gpu_smoke_owner=os.environ.get('USER') or 'root', gpu_smoke_require_cuda=False, gpu_smoke_steps=10)
    proc = run_playbook(tmp_path, playbook(tmp_path, 'site.yml', text), extra_vars=extra)
    assert (tmp_path / 'scripts' / 'smoke_train.py').exists()
    entry = ledger_entries(ledger)[-1]
    assert entry['verdict'] == 'approve' and entry['path'].endswith('roles/gpu_smoke/files/smoke_train.py')

    records = verify_records(tmp_path)
    runs = [r for r in records if r['task'] == 'Train a tiny model for a few steps on the fetched dataset']
    assert runs and runs[0]['evidence'] is True and runs[0]['phase'] == 'smoke'
    assert 'device: cpu' in runs[0]['result']['stdout'] and 'loss:' in runs[0]['result']['stdout']
    assert 'failed=0' in proc.stdout

    again = run_playbook(tmp_path, playbook(tmp_path, 'site.yml', text), extra_vars=extra)
    assert 'changed=0' in again.stdout
